package audit

import "fmt"

// writeCheckpoint opens, updates and closes logPath's checkpoint.
func writeCheckpoint(logPath string, key []byte, records uint64, last string) error {
	f, err := openCheckpoint(logPath)
	if err != nil {
		return err
	}
	err = updateCheckpoint(f, key, records, last, true)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write audit checkpoint: %w", cerr)
	}
	return err
}
