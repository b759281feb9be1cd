//go:build !linux

package kavachtest

import "errors"

// LandlockABI reports that Landlock exists only on Linux.
func LandlockABI() (int, error) { return 0, errors.New("landlock requires linux") }
