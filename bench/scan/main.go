// Command scan-bench compares `kavach scan` with gitleaks on the same
// generated corpus, in the same run, interleaved, and prints throughput,
// the ratio and peak RSS.
//
// It writes two corpora of -size MiB into a temporary directory: "mixed"
// (clean program output with a generated positive of a random rule every
// 4 KiB, no real secret anywhere) and "clean" (the same text without
// positives), each once as a single file, which kavach scans, and once as
// 1 MiB pieces in a directory, which gitleaks scans (its unit is a
// directory, and it scans several files at once). Each round runs both tools on the mixed corpus, alternating
// which goes first, then kavach alone on the clean corpus on one core,
// three times in a row (the one-core, clean-text figure): GOMAXPROCS=1, and the process pinned
// to one CPU (sched_setaffinity, on Linux), so that neither the
// scanner nor the Go runtime's other threads (GC workers, the OS-thread
// side of reads) can borrow a second core; its wall time is then at least
// its CPU time. The figures include the whole process: start, building
// the scanners, mapping and reading the file, writing the report. The
// medians are printed. -gitleaks none runs kavach alone.
//
//	go build -o /tmp/kavach ./cmd/kavach
//	go install github.com/zricethezav/gitleaks/v8@v8.30.1
//	go run ./bench/scan -kavach /tmp/kavach -gitleaks "$(go env GOPATH)/bin/gitleaks"
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kavach-go/kavach/scan/scancorpus"
)

func main() {
	if os.Getenv(runnerEnv) == "1" {
		os.Exit(runner(os.Args[1:]))
	}
	kavachBin := flag.String("kavach", "", "path to the kavach binary (required)")
	gitleaksBin := flag.String("gitleaks", "gitleaks", "path to the gitleaks binary")
	sizeMiB := flag.Int("size", 100, "corpus size in MiB")
	rounds := flag.Int("rounds", 3, "rounds (each runs every tool once)")
	flag.Parse()
	if err := run(*kavachBin, *gitleaksBin, *sizeMiB, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "scan-bench:", err)
		os.Exit(1)
	}
}

// result is one timed run of a tool.
type result struct {
	wall   time.Duration
	cpu    time.Duration
	maxRSS int64 // bytes
	exit   int
}

type series struct {
	name  string
	bytes int64
	runs  []result
}

func (s *series) add(r result) { s.runs = append(s.runs, r) }

func (s *series) median() result {
	rs := slices.Clone(s.runs)
	slices.SortFunc(rs, func(a, b result) int { return int(a.wall - b.wall) })
	return rs[len(rs)/2]
}

// mibPerCPU is the throughput per CPU second (user+system) of the median
// run: on a shared machine it is steadier than wall time.
func (s *series) mibPerCPU() float64 {
	return float64(s.bytes) / (1 << 20) / s.median().cpu.Seconds()
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func (s *series) mibps() float64 {
	return float64(s.bytes) / (1 << 20) / s.median().wall.Seconds()
}

// cleanRuns is how many times each round runs the one-core clean-text
// scan, one after the other.
const cleanRuns = 3

func run(kavachBin, gitleaksBin string, sizeMiB, rounds int) error {
	if kavachBin == "" {
		return fmt.Errorf("-kavach is required (go build -o /tmp/kavach ./cmd/kavach)")
	}
	gl := ""
	if gitleaksBin != "none" {
		var err error
		if gl, err = exec.LookPath(gitleaksBin); err != nil {
			return fmt.Errorf("gitleaks not found (go install github.com/zricethezav/gitleaks/v8@v8.30.1): %w", err)
		}
	}
	dir, err := os.MkdirTemp("", "kavach-scan-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	size := sizeMiB << 20
	mixedDir, cleanDir := filepath.Join(dir, "mixed"), filepath.Join(dir, "clean")
	t0 := time.Now()
	mixed, pos := scancorpus.Mixed(size, 4096, 1)
	mixedFile := filepath.Join(dir, "mixed.txt")
	if err := writeCorpus(mixedFile, mixedDir, mixed); err != nil {
		return err
	}
	mixed = nil
	cleanFile := filepath.Join(dir, "clean.txt")
	if err := writeCorpus(cleanFile, cleanDir, scancorpus.Clean(size, 1)); err != nil {
		return err
	}
	fi, err := os.Stat(mixedFile)
	if err != nil {
		return err
	}
	runtime.GC()
	debug.FreeOSMemory()
	fmt.Printf("corpus: %s mixed (%d MiB, %d positives of %d rules' generators) and clean (%d MiB), generated in %s\n",
		dir, fi.Size()>>20, len(pos), countRules(pos), sizeMiB, time.Since(t0).Round(time.Millisecond))

	kav := &series{name: "kavach scan (mixed, all three scanners)", bytes: fi.Size()}
	glk := &series{name: "gitleaks dir (mixed, default rules)", bytes: fi.Size()}
	cpu := lastCPU()
	kavClean := &series{name: fmt.Sprintf("kavach scan (clean, one core: CPU %d)", cpu), bytes: int64(size)}
	glClean := &series{name: "gitleaks dir (clean)", bytes: int64(size)}
	kavCmd := func(file string) []string { return []string{kavachBin, "scan", "--json", file} }
	glCmd := func(d string) []string {
		return []string{gl, "dir", d, "--no-banner", "--exit-code", "0", "--log-level", "error",
			"--report-format", "json", "--report-path", filepath.Join(dir, "gitleaks-report.json")}
	}
	oneCore := []string{"GOMAXPROCS=1", fmt.Sprintf("%s=%d", pinEnv, cpu)}
	for i := range rounds {
		order := []func() error{
			func() error { return timed(kav, mixedFile, kavCmd(mixedFile), nil) },
		}
		if gl != "" {
			order = append(order, func() error { return timed(glk, mixedDir, glCmd(mixedDir), nil) })
		}
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, f := range order {
			if err := f(); err != nil {
				return err
			}
		}
		for range cleanRuns {
			if err := timed(kavClean, cleanFile, kavCmd(cleanFile), oneCore); err != nil {
				return err
			}
		}
		if gl != "" {
			if err := timed(glClean, cleanDir, glCmd(cleanDir), nil); err != nil {
				return err
			}
		}
	}

	fmt.Printf("\n%-44s %10s %12s %10s %10s %10s\n", "tool", "MiB/s", "MiB/cpu-s", "wall", "cpu", "peak RSS")
	for _, s := range []*series{kav, glk, kavClean, glClean} {
		if len(s.runs) == 0 {
			continue
		}
		m := s.median()
		fmt.Printf("%-44s %10.1f %12.1f %10s %10s %7d MiB\n", s.name, s.mibps(), s.mibPerCPU(),
			m.wall.Round(time.Millisecond), m.cpu.Round(time.Millisecond), m.maxRSS>>20)
	}
	if gl != "" {
		fmt.Printf("\nkavach/gitleaks on the mixed corpus: %.2fx by wall time, %.2fx by CPU time (median of %d interleaved rounds)\n",
			kav.mibps()/glk.mibps(), kav.mibPerCPU()/glk.mibPerCPU(), rounds)
	}
	best := slices.MinFunc(kavClean.runs, func(a, b result) int { return int(a.wall - b.wall) })
	fmt.Printf("kavach on clean text, one core (GOMAXPROCS=1, pinned to CPU %d): %.1f MiB/s wall, %.1f MiB per CPU second, median of %d; best %.1f MiB/s wall (target 500; the whole process: start, scanners built, file mapped, report written)\n",
		cpu, kavClean.mibps(), kavClean.mibPerCPU(), len(kavClean.runs), float64(kavClean.bytes)/(1<<20)/best.wall.Seconds())
	fmt.Printf("load average at the end: %s\n", loadAvg())
	fmt.Printf("exit codes: kavach mixed %d, kavach clean %d (0 pass, 3 block)\n", kav.median().exit, kavClean.median().exit)
	return nil
}

// writeCorpus writes b as one file for kavach (which scans one file or
// stdin) and as 1 MiB pieces cut at line ends into dir for gitleaks (which
// scans a directory, several files at a time): the same bytes for both.
func writeCorpus(file, dir string, b []byte) error {
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	for i, off := 0, 0; off < len(b); i++ {
		end := min(off+1<<20, len(b))
		for end < len(b) && b[end-1] != '\n' {
			end++
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%04d.txt", i)), b[off:end], 0o600); err != nil {
			return err
		}
		off = end
	}
	return nil
}

func countRules(pos []scancorpus.Positive) int {
	seen := map[string]bool{}
	for _, p := range pos {
		seen[p.Rule] = true
	}
	return len(seen)
}

// runnerEnv makes the program act as the runner of one tool; pinEnv, when
// set, makes the runner pin the tool to that CPU.
const (
	runnerEnv = "KAVACH_SCAN_BENCH_RUNNER"
	pinEnv    = "KAVACH_SCAN_BENCH_CPU"
)

// runner runs argv with its output discarded and prints the child's exit
// code, CPU time (ns) and peak RSS (bytes). The tools are started from this
// small process rather than from the benchmark, which holds the corpus:
// Linux counts the memory a process had before exec in its ru_maxrss, so a
// child forked from the large parent would report the parent's RSS.
func runner(argv []string) int {
	if c := os.Getenv(pinEnv); c != "" {
		n, err := strconv.Atoi(c)
		if err == nil {
			err = pinToCPU(n)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "runner: pin to CPU", c+":", err)
			return 1
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = nil, nil
	err := cmd.Run()
	if cmd.ProcessState == nil || !cmd.ProcessState.Exited() {
		fmt.Fprintln(os.Stderr, "runner:", err, cmd.ProcessState)
		return 1
	}
	ps := cmd.ProcessState
	fmt.Printf("%d %d %d\n", ps.ExitCode(), int64(ps.UserTime()+ps.SystemTime()), maxRSS(ps))
	return 0
}

// timed runs argv through the runner and records wall time, CPU time and
// peak RSS. A non-zero exit of the tool is data (kavach reports its
// verdict that way), an error only when it could not run or was killed.
func timed(s *series, input string, argv []string, env []string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for _, path := range []string{argv[0], input} {
		if err := warmCache(path); err != nil {
			return err
		}
	}
	cmd := exec.Command(self, argv...)
	cmd.Env = append(append(os.Environ(), runnerEnv+"=1"), env...)
	cmd.Stderr = os.Stderr
	start := time.Now()
	out, err := cmd.Output()
	wall := time.Since(start)
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	var r result
	var cpu int64
	if _, err := fmt.Sscan(string(out), &r.exit, &cpu, &r.maxRSS); err != nil {
		return fmt.Errorf("%s: runner said %q: %w", s.name, out, err)
	}
	r.wall, r.cpu = wall, time.Duration(cpu)
	s.add(r)
	return nil
}

// warmCache reads path (a file, or every file of a directory), untimed,
// so that the run that follows starts its binary and scans its input from
// the page cache. Without it the figures would partly be disk reads: the
// VM the figures come from runs a DAMON "pageout" scheme that evicts
// page-cache pages left untouched for a few seconds, so after the 50 s of
// a gitleaks run parts of the kavach binary and of its input were on disk
// again, costing the next scan up to a third more CPU time.
func warmCache(path string) error {
	files := []string{path}
	if fi, err := os.Stat(path); err != nil {
		return err
	} else if fi.IsDir() {
		ents, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		files = files[:0]
		for _, e := range ents {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
