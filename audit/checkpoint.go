package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// CheckpointSuffix is appended to a log's path to name its checkpoint.
const CheckpointSuffix = ".checkpoint"

// checkpointVersion and checkpointDomain version the checkpoint format. The
// domain prefix keeps a checkpoint MAC from ever equalling a record HMAC
// made with the same key: record inputs start with a decimal serial.
const (
	checkpointVersion = 1
	checkpointDomain  = "kavach-audit-checkpoint-v1:"
)

// checkpoint is the signed anchor kept beside a log: how many records the
// writer had committed and the hmac of the last one. It does not name the
// log's path or inode, so copying both files together keeps them valid.
type checkpoint struct {
	Version  int    `json:"version"`
	Records  uint64 `json:"records"`
	LastHMAC string `json:"last_hmac"`
	MAC      string `json:"mac"`
}

func checkpointMAC(key []byte, records uint64, last string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(checkpointDomain))
	m.Write(strconv.AppendUint(nil, records, 10))
	m.Write([]byte{':'})
	m.Write([]byte(last))
	return hex.EncodeToString(m.Sum(nil))
}

// checkpointSize is the fixed size of a checkpoint file: its JSON, spaces,
// and a final newline. A fixed size lets the writer overwrite it in place
// with one write within one disk sector and one fsync, a third of the cost
// of writing a new file and renaming it over the old one.
const checkpointSize = 256

// encodeCheckpoint returns the checkpoint file's bytes.
func encodeCheckpoint(key []byte, records uint64, last string) ([]byte, error) {
	cp := checkpoint{Version: checkpointVersion, Records: records, LastHMAC: last, MAC: checkpointMAC(key, records, last)}
	b, err := json.Marshal(cp)
	if err != nil {
		return nil, err
	}
	if len(b) >= checkpointSize {
		return nil, fmt.Errorf("checkpoint of %d bytes does not fit in %d", len(b), checkpointSize)
	}
	out := make([]byte, checkpointSize)
	copy(out, b)
	for i := len(b); i < checkpointSize-1; i++ {
		out[i] = ' '
	}
	out[checkpointSize-1] = '\n'
	return out, nil
}

// readCheckpoint loads and authenticates path's checkpoint. It returns
// (nil, nil) when there is none.
func readCheckpoint(logPath string, key []byte) (*checkpoint, error) {
	b, err := os.ReadFile(logPath + CheckpointSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit checkpoint: %w", err)
	}
	if len(b) != checkpointSize || b[checkpointSize-1] != '\n' {
		return nil, &ChainError{Reason: fmt.Sprintf("checkpoint is malformed: %d bytes, want %d ending in a newline", len(b), checkpointSize)}
	}
	body := bytes.TrimRight(b[:checkpointSize-1], " ")
	var cp checkpoint
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cp); err != nil {
		return nil, &ChainError{Reason: "checkpoint is malformed: " + err.Error()}
	}
	if canon, err := json.Marshal(cp); err != nil || !bytes.Equal(canon, body) {
		return nil, &ChainError{Reason: "checkpoint is not in canonical form"}
	}
	if cp.Version != checkpointVersion {
		return nil, &ChainError{Reason: fmt.Sprintf("checkpoint has unknown version %d", cp.Version)}
	}
	want := checkpointMAC(key, cp.Records, cp.LastHMAC)
	if !hmacMatches([]byte(want), []byte(cp.MAC)) {
		return nil, &ChainError{Serial: cp.Records, Reason: "checkpoint signature does not verify (wrong key or forged checkpoint)"}
	}
	return &cp, nil
}

// openCheckpoint opens (creating, mode 0600) a log's checkpoint file for
// in-place updates.
func openCheckpoint(logPath string) (*os.File, error) {
	f, err := os.OpenFile(logPath+CheckpointSuffix, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit checkpoint: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Mode().Perm()&^0o600 != 0 {
		err = f.Chmod(0o600)
	}
	if err == nil && fi.Size() > checkpointSize {
		err = f.Truncate(checkpointSize)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open audit checkpoint: %w", err)
	}
	return f, nil
}

// updateCheckpoint overwrites the checkpoint in place, and fsyncs it when
// sync is set (the Writer fsyncs it from a background goroutine instead,
// see commitLocked). The write is one sector at offset 0, which disks write
// atomically; should a power loss still tear it, Verify reports the
// checkpoint as malformed and the log can be checked on its own with the
// checkpoint moved aside. A crash before the checkpoint reached the disk
// leaves one that is behind the log, which Verify reports as a warning,
// never as tampering.
func updateCheckpoint(f *os.File, key []byte, records uint64, last string, sync bool) error {
	b, err := encodeCheckpoint(key, records, last)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("write audit checkpoint: %w", err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("write audit checkpoint: %w", err)
		}
	}
	return nil
}
