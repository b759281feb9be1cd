//go:build !linux

package landlock

// ABI reports that Landlock is Linux-only.
func ABI() (int, error) { return 0, ErrUnsupported }

// RestrictThread fails: Landlock is Linux-only.
func RestrictThread(Config) (Result, error) { return Result{}, ErrUnsupported }
