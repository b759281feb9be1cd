package scan

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/kavach-go/kavach/scan/scancorpus"
)

var (
	benchClean = sync.OnceValue(func() []byte { return scancorpus.Clean(8<<20, 1) })
	benchMixed = sync.OnceValue(func() []byte {
		// Clean text with one generated positive of every rule every ~4 KiB.
		r := rand.New(rand.NewPCG(2, 3))
		pos := truePositiveList(17, 2)
		var b bytes.Buffer
		clean := benchClean()
		for off := 0; off < len(clean); off += 4096 {
			b.Write(clean[off:min(off+4096, len(clean))])
			b.WriteString("\n" + pos[r.IntN(len(pos))] + "\n")
		}
		return b.Bytes()
	})
)

func benchScan(b *testing.B, s Scanner, in []byte) {
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		s.Scan(in)
	}
}

func BenchmarkScanSecretsClean(b *testing.B) { benchScan(b, Secrets(), benchClean()) }
func BenchmarkScanCodeClean(b *testing.B)    { benchScan(b, Code(), benchClean()) }
func BenchmarkScanDataClean(b *testing.B)    { benchScan(b, Data(), benchClean()) }
func BenchmarkScanAllClean(b *testing.B)     { benchScan(b, All(), benchClean()) }
func BenchmarkScanAllMixed(b *testing.B)     { benchScan(b, All(), benchMixed()) }

// BenchmarkScanAllSmall scans the output of one small command, as the
// gate does after most execs: fixed costs per call show here.
func BenchmarkScanAllSmall(b *testing.B) {
	benchScan(b, All(), []byte("build ok: 12 tests passed in 0.31s\nINFO server started on port 8080 at 2026-01-02T03:04:05Z\n"+
		"warning: unused variable x in ./src/main.go:42\n"))
}
