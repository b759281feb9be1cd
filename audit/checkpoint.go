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
	"path/filepath"
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
	var cp checkpoint
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cp); err != nil {
		return nil, &ChainError{Reason: "checkpoint is malformed: " + err.Error()}
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

// writeCheckpoint replaces path's checkpoint atomically: a temporary file
// in the same directory, written, fsynced and renamed over the old one.
// The directory is not fsynced on every update: after a crash the rename
// may be lost, which leaves the previous checkpoint, one that is behind the
// log; Verify reports that as a warning, never as tampering.
func writeCheckpoint(logPath string, key []byte, records uint64, last string) error {
	cp := checkpoint{Version: checkpointVersion, Records: records, LastHMAC: last, MAC: checkpointMAC(key, records, last)}
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	dir, base := filepath.Split(logPath + CheckpointSuffix)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("write audit checkpoint: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, logPath+CheckpointSuffix)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write audit checkpoint: %w", err)
	}
	return nil
}
