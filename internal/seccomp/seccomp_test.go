package seccomp

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

func mustBuild(t testing.TB, profile, goarch string) *Filter {
	t.Helper()
	b := buildFor(profile, goarch)
	if b.err != nil {
		t.Fatalf("buildFor(%q, %q): %v", profile, goarch, b.err)
	}
	return b.f
}

func TestBuild(t *testing.T) {
	for _, goarch := range []string{"amd64", "arm64"} {
		for _, name := range []string{"basic", "strict"} {
			t.Run(goarch+"/"+name, func(t *testing.T) {
				f := mustBuild(t, name, goarch)
				if f.Profile() != name {
					t.Errorf("Profile() = %q, want %q", f.Profile(), name)
				}
				rs, err := resolve(profiles()[name], archs[goarch])
				if err != nil {
					t.Fatal(err)
				}
				if f.Rules() != len(rs) || f.Rules() == 0 {
					t.Errorf("Rules() = %d, want %d (> 0)", f.Rules(), len(rs))
				}
				t.Logf("%s/%s: %d rules, %d instructions", goarch, name, f.Rules(), len(f.Program()))
			})
		}
	}
}

func TestBuildErrors(t *testing.T) {
	if _, err := Build("desktop"); !errors.Is(err, ErrUnknownProfile) {
		t.Errorf("Build(desktop) error = %v, want ErrUnknownProfile", err)
	}
	if b := buildFor("basic", "mips64"); !errors.Is(b.err, ErrUnsupportedArch) {
		t.Errorf("buildFor(basic, mips64) error = %v, want ErrUnsupportedArch", b.err)
	}
	if _, ok := archs[runtime.GOARCH]; !ok {
		return
	}
	a, err := Build("strict")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Build("strict")
	if a != b {
		t.Error("Build(strict) twice returned two filters, want the cached one")
	}
	p := a.Program()
	p[0].K = 0
	if a.Program()[0].K == 0 {
		t.Error("Program() returned the filter's own slice")
	}
}

// TestNames catches typos: every syscall a profile names must exist on at
// least one architecture, and the ones every program needs on both.
func TestNames(t *testing.T) {
	for _, p := range profiles() {
		for _, r := range p.rules {
			_, x86 := sysX86_64()[r.name]
			_, arm := sysAarch64()[r.name]
			if !x86 && !arm {
				t.Errorf("%s: syscall %q exists on no architecture", p.name, r.name)
			}
		}
	}
	for _, name := range []string{"openat", "newfstatat", "rseq", "prlimit64", "getrandom", "pread64",
		"set_robust_list", "execve", "clone", "futex", "mmap", "exit_group", "read", "write", "close"} {
		for goarch, a := range archs {
			if v := verdictByName(t, "strict", goarch, name); v != actionAllow {
				t.Errorf("strict on %s: %s gets %v, want ALLOW", goarch, name, v)
			}
			_ = a
		}
	}
}

// TestStrictWithinBasic checks strict ⊂ basic: whatever strict allows,
// basic allows too, for every syscall number and argument shape.
func TestStrictWithinBasic(t *testing.T) {
	for goarch, a := range archs {
		for _, d := range sweep(a) {
			s := profiles()["strict"].verdict(a, d)
			b := profiles()["basic"].verdict(a, d)
			if s == actionAllow && b != actionAllow {
				t.Fatalf("%s: nr %d args %x: strict allows, basic says %v", goarch, d.nr, d.args, b)
			}
			if b == actionEPERM && s == actionAllow {
				t.Fatalf("%s: nr %d: basic denies, strict allows", goarch, d.nr)
			}
		}
	}
}

func verdictByName(t testing.TB, profile, goarch, name string, args ...uint64) seccompAction {
	t.Helper()
	a := archs[goarch]
	nr, ok := a.table()[name]
	if !ok {
		t.Fatalf("no syscall %s on %s", name, goarch)
	}
	d := seccompData{nr: nr, arch: a.audit}
	copy(d.args[:], args)
	return profiles()[profile].verdict(a, d)
}

// TestProgram runs the compiled programs in the interpreter on hand-picked
// syscalls whose expected action is written out here, independent of both
// compile and verdict.
func TestProgram(t *testing.T) {
	const (
		sigchld        = 17
		cloneThread    = 0x00010000 | 0x00000100 | 0x00000800 | 0x00000200 | 0x00000400 // THREAD|VM|SIGHAND|FS|FILES
		afAlg          = 38
		afBluetooth    = 31
		sockStream     = 1
		sockDgram      = 2
		sockCloexec    = 0x80000
		sockNonblock   = 0x800
		netlinkNetfilt = 12
		netlinkAudit   = 9
		tcgets         = 0x5401
		high           = 0xdead_beef_0000_0000
	)
	type tc struct {
		profile, goarch, name string
		nr                    *uint32 // raw number instead of name
		arch                  uint32  // 0 = native
		args                  []uint64
		want                  seccompAction
	}
	num := func(n uint32) *uint32 { return &n }
	cases := []tc{
		// Architecture and ABI checks.
		{profile: "basic", goarch: "amd64", name: "getpid", arch: auditArchI386, want: actionKillProcess},
		{profile: "strict", goarch: "amd64", name: "getpid", arch: auditArchI386, want: actionKillProcess},
		{profile: "basic", goarch: "amd64", name: "getpid", arch: auditArchAarch64, want: actionKillProcess},
		{profile: "basic", goarch: "amd64", nr: num(39 | x32SyscallBit), want: actionKillProcess},
		{profile: "strict", goarch: "amd64", nr: num(0 | x32SyscallBit), want: actionKillProcess},
		{profile: "basic", goarch: "amd64", nr: num(0x80000000), want: actionKillProcess},
		{profile: "basic", goarch: "amd64", nr: num(0xffffffff), want: actionAllow},
		{profile: "strict", goarch: "amd64", nr: num(0xffffffff), want: actionENOSYS},
		{profile: "basic", goarch: "arm64", name: "getpid", arch: auditArchArm, want: actionKillProcess},
		{profile: "basic", goarch: "arm64", name: "getpid", arch: auditArchX86_64, want: actionKillProcess},
		{profile: "basic", goarch: "arm64", nr: num(172 | x32SyscallBit), want: actionAllow},
		{profile: "strict", goarch: "arm64", nr: num(172 | x32SyscallBit), want: actionENOSYS},
		// basic: plain allow and the original's denylist.
		{profile: "basic", goarch: "amd64", name: "read", want: actionAllow},
		{profile: "basic", goarch: "amd64", name: "chroot", want: actionAllow},
		{profile: "basic", goarch: "amd64", name: "statmount", want: actionAllow},
		{profile: "basic", goarch: "amd64", nr: num(999), want: actionAllow},
		{profile: "basic", goarch: "amd64", name: "ptrace", want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "mount", want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "umount2", want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "reboot", want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "io_uring_setup", want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "io_uring_register", want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "sethostname", want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "bpf", want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "perf_event_open", want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "keyctl", want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "add_key", want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "userfaultfd", want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "open_by_handle_at", want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "fsopen", want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "mount_setattr", want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "setns", want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "process_vm_readv", want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "iopl", want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "kexec_file_load", want: actionEPERM},
		{profile: "basic", goarch: "arm64", name: "ptrace", want: actionEPERM},
		{profile: "basic", goarch: "arm64", name: "bpf", want: actionEPERM},
		// clone and clone3.
		{profile: "basic", goarch: "amd64", name: "clone3", want: actionENOSYS},
		{profile: "strict", goarch: "amd64", name: "clone3", want: actionENOSYS},
		{profile: "basic", goarch: "amd64", name: "clone", args: []uint64{sigchld}, want: actionAllow},
		{profile: "basic", goarch: "amd64", name: "clone", args: []uint64{cloneThread}, want: actionAllow},
		{profile: "basic", goarch: "amd64", name: "clone", args: []uint64{high | sigchld}, want: actionAllow},
		{profile: "basic", goarch: "amd64", name: "clone", args: []uint64{cloneNewUser | sigchld}, want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "clone", args: []uint64{high | cloneNewNet}, want: actionEPERM},
		{profile: "strict", goarch: "amd64", name: "clone", args: []uint64{cloneNewPID}, want: actionEPERM},
		{profile: "strict", goarch: "amd64", name: "clone", args: []uint64{cloneThread}, want: actionAllow},
		{profile: "strict", goarch: "arm64", name: "clone", args: []uint64{cloneNewNS}, want: actionEPERM},
		// unshare.
		{profile: "basic", goarch: "amd64", name: "unshare", args: []uint64{cloneNewUser}, want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "unshare", args: []uint64{cloneNewTime}, want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "unshare", args: []uint64{cloneNewCgroup}, want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "unshare", args: []uint64{0x400}, want: actionAllow},
		{profile: "strict", goarch: "amd64", name: "unshare", args: []uint64{cloneNewIPC}, want: actionEPERM},
		// socket.
		{profile: "basic", goarch: "amd64", name: "socket", args: []uint64{afPacket, sockRaw, 0x300}, want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "socket", args: []uint64{afPacket, sockDgram, 0}, want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "socket", args: []uint64{high | afPacket, sockDgram, 0}, want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "socket", args: []uint64{afNetlink, sockRaw | sockCloexec, netlinkRoute}, want: actionAllow},
		{profile: "basic", goarch: "amd64", name: "socket", args: []uint64{afNetlink, sockRaw, netlinkNetfilt}, want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "socket", args: []uint64{afNetlink, sockDgram, netlinkAudit}, want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "socket", args: []uint64{afInet, sockStream, ipprotoMPTCP}, want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "socket", args: []uint64{afInet6, sockStream | sockCloexec, ipprotoMPTCP}, want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "socket", args: []uint64{afInet, sockStream, 6}, want: actionAllow},
		{profile: "basic", goarch: "amd64", name: "socket", args: []uint64{afInet6, sockDgram | sockNonblock, 0}, want: actionAllow},
		{profile: "basic", goarch: "amd64", name: "socket", args: []uint64{afInet, sockRaw | sockNonblock, 1}, want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "socket", args: []uint64{afUnix, sockStream | sockCloexec, 0}, want: actionAllow},
		{profile: "strict", goarch: "amd64", name: "socket", args: []uint64{afPacket, sockRaw, 0}, want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "socket", args: []uint64{afVsock, sockStream, 0}, want: actionEPERM},
		{profile: "strict", goarch: "amd64", name: "socket", args: []uint64{afVsock, sockStream, 0}, want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "socket", args: []uint64{afAlg, 5, 0}, want: actionAllow},
		{profile: "strict", goarch: "amd64", name: "socket", args: []uint64{afAlg, 5, 0}, want: actionEPERM},
		{profile: "strict", goarch: "arm64", name: "socket", args: []uint64{afBluetooth, sockStream, 0}, want: actionEPERM},
		{profile: "strict", goarch: "amd64", name: "socket", args: []uint64{afUnix, sockDgram | sockCloexec, 0}, want: actionAllow},
		{profile: "strict", goarch: "amd64", name: "socket", args: []uint64{afInet6, sockDgram, 17}, want: actionAllow},
		{profile: "strict", goarch: "amd64", name: "socket", args: []uint64{afNetlink, sockRaw, netlinkRoute}, want: actionAllow},
		{profile: "strict", goarch: "amd64", name: "socket", args: []uint64{afNetlink, sockRaw, netlinkAudit}, want: actionEPERM},
		{profile: "strict", goarch: "amd64", name: "socket", args: []uint64{afInet, sockStream, 0}, want: actionAllow},
		{profile: "strict", goarch: "arm64", name: "socket", args: []uint64{afInet, sockStream, ipprotoMPTCP}, want: actionEPERM},
		// personality and ioctl.
		{profile: "basic", goarch: "amd64", name: "personality", args: []uint64{perLinux}, want: actionAllow},
		{profile: "basic", goarch: "amd64", name: "personality", args: []uint64{personalityQuery}, want: actionAllow},
		{profile: "basic", goarch: "amd64", name: "personality", args: []uint64{8}, want: actionEPERM},         // PER_LINUX32
		{profile: "basic", goarch: "amd64", name: "personality", args: []uint64{0x0040000}, want: actionEPERM}, // ADDR_NO_RANDOMIZE
		{profile: "strict", goarch: "amd64", name: "personality", args: []uint64{8}, want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "ioctl", args: []uint64{0, tiocsti}, want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "ioctl", args: []uint64{0, high | tiocsti}, want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "ioctl", args: []uint64{0, tioclinux}, want: actionEPERM},
		{profile: "basic", goarch: "amd64", name: "ioctl", args: []uint64{tiocsti, tcgets}, want: actionAllow},
		{profile: "strict", goarch: "amd64", name: "ioctl", args: []uint64{1, tcgets}, want: actionAllow},
		{profile: "strict", goarch: "amd64", name: "ioctl", args: []uint64{1, tiocsti}, want: actionEPERM},
		// strict: what programs need is allowed, the rest is ENOSYS, the
		// denylist keeps EPERM.
		{profile: "strict", goarch: "amd64", name: "openat", want: actionAllow},
		{profile: "strict", goarch: "amd64", name: "newfstatat", want: actionAllow},
		{profile: "strict", goarch: "amd64", name: "rseq", want: actionAllow},
		{profile: "strict", goarch: "amd64", name: "prlimit64", want: actionAllow},
		{profile: "strict", goarch: "amd64", name: "arch_prctl", want: actionAllow},
		{profile: "strict", goarch: "amd64", name: "restart_syscall", want: actionAllow},
		{profile: "strict", goarch: "amd64", name: "chroot", want: actionENOSYS},
		{profile: "strict", goarch: "amd64", name: "statmount", want: actionENOSYS},
		{profile: "strict", goarch: "amd64", name: "io_setup", want: actionENOSYS},
		{profile: "strict", goarch: "amd64", nr: num(999), want: actionENOSYS},
		{profile: "strict", goarch: "amd64", name: "ptrace", want: actionEPERM},
		{profile: "strict", goarch: "amd64", name: "mount", want: actionEPERM},
		{profile: "strict", goarch: "amd64", name: "keyctl", want: actionEPERM},
		{profile: "strict", goarch: "amd64", name: "io_uring_enter", want: actionEPERM},
		{profile: "strict", goarch: "arm64", name: "openat", want: actionAllow},
		{profile: "strict", goarch: "arm64", name: "newfstatat", want: actionAllow},
		{profile: "strict", goarch: "arm64", name: "ptrace", want: actionEPERM},
		{profile: "strict", goarch: "arm64", name: "chroot", want: actionENOSYS},
	}
	for _, c := range cases {
		what := c.name
		if c.nr != nil {
			what = fmt.Sprintf("nr%#x", *c.nr)
		}
		t.Run(fmt.Sprintf("%s/%s/%s%x", c.goarch, c.profile, what, c.args), func(t *testing.T) {
			a := archs[c.goarch]
			d := seccompData{arch: a.audit}
			if c.arch != 0 {
				d.arch = c.arch
			}
			if c.nr != nil {
				d.nr = *c.nr
			} else {
				nr, ok := a.table()[c.name]
				if !ok {
					t.Fatalf("no syscall %s on %s", c.name, c.goarch)
				}
				d.nr = nr
			}
			copy(d.args[:], c.args)
			got, err := interpret(mustBuild(t, c.profile, c.goarch).prog, d)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("program returns %v, want %v", got, c.want)
			}
			if v := profiles()[c.profile].verdict(a, d); v != c.want {
				t.Errorf("declared rules say %v, want %v", v, c.want)
			}
		})
	}
}

// sweep returns seccomp_data covering every syscall number up to past the
// highest, the x32 and out-of-range numbers, foreign arches, and for each
// number the argument values every condition tests, alone and with high
// bits and neighbouring values.
func sweep(a *arch) []seccompData {
	var vals []uint32
	for _, p := range profiles() {
		for _, r := range p.rules {
			for _, c := range r.clauses {
				for _, cd := range c.conds {
					vals = append(vals, cd.value, cd.value|^cd.mask, cd.value+1, cd.value^cd.mask)
				}
			}
		}
	}
	slices.Sort(vals)
	vals = slices.Compact(vals)
	var argSets [][6]uint64
	argSets = append(argSets, [6]uint64{})
	for _, v := range vals {
		for i := 0; i < 3; i++ {
			var s [6]uint64
			s[i] = uint64(v)
			argSets = append(argSets, s)
			s[i] |= 0xffffffff_00000000
			argSets = append(argSets, s)
		}
		for _, w := range vals {
			argSets = append(argSets, [6]uint64{uint64(v), uint64(w) & 0xf, uint64(w)}, [6]uint64{uint64(v), 0, uint64(w)})
		}
	}
	nrs := []uint32{x32SyscallBit, x32SyscallBit | 1, x32SyscallBit - 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff}
	for nr := uint32(0); nr < 520; nr++ {
		nrs = append(nrs, nr)
	}
	var out []seccompData
	conditional := map[uint32]bool{}
	for _, p := range profiles() {
		for _, r := range p.rules {
			if nr, ok := a.table()[r.name]; ok && len(r.clauses) > 0 {
				conditional[nr] = true
			}
		}
	}
	for _, nr := range nrs {
		for _, arch := range []uint32{a.audit, auditArchI386, auditArchArm, auditArchX86_64, auditArchAarch64} {
			out = append(out, seccompData{nr: nr, arch: arch, args: [6]uint64{1, 2, 3, 4, 5, 6}})
		}
		if conditional[nr] {
			for _, s := range argSets {
				out = append(out, seccompData{nr: nr, arch: a.audit, args: s})
			}
		}
	}
	return out
}

// TestDifferential compares the interpreter's verdict on the compiled
// program with the declared rules over the whole sweep, for every profile
// and architecture (the gVisor approach: the program is checked against
// the policy it was compiled from, not against its own output).
func TestDifferential(t *testing.T) {
	for goarch, a := range archs {
		for name, p := range profiles() {
			t.Run(goarch+"/"+name, func(t *testing.T) {
				prog := mustBuild(t, name, goarch).prog
				data := sweep(a)
				for _, d := range data {
					got, err := interpret(prog, d)
					if err != nil {
						t.Fatalf("nr %d arch %#x args %x: %v", d.nr, d.arch, d.args, err)
					}
					if want := p.verdict(a, d); got != want {
						t.Fatalf("nr %d arch %#x args %x: program %v, rules %v", d.nr, d.arch, d.args, got, want)
					}
				}
				t.Logf("%d inputs agree", len(data))
			})
		}
	}
}

// FuzzProgram is the differential test with fuzzed inputs. The syscall
// number is also folded into the table range, where the rules are.
func FuzzProgram(f *testing.F) {
	f.Add(uint8(0), uint32(41), uint64(afPacket), uint64(sockRaw), uint64(0), uint32(0))
	f.Add(uint8(1), uint32(56), uint64(1), uint64(tiocsti), uint64(0), uint32(0))
	f.Add(uint8(2), uint32(135), uint64(8), uint64(0), uint64(0), uint32(0))
	f.Add(uint8(3), uint32(0x40000027), uint64(0), uint64(0), uint64(0), uint32(auditArchI386))
	f.Add(uint8(0), uint32(56), uint64(cloneNewUser|17), uint64(0), uint64(0), uint32(0))
	f.Add(uint8(0), uint32(41), uint64(afInet6), uint64(1), uint64(ipprotoMPTCP), uint32(0))
	f.Add(uint8(0), uint32(41), uint64(afNetlink), uint64(2), uint64(12), uint32(0))
	type target struct {
		a    *arch
		p    *profile
		prog []Instruction
	}
	var targets []target
	for _, goarch := range []string{"amd64", "arm64"} {
		for _, name := range []string{"basic", "strict"} {
			targets = append(targets, target{archs[goarch], profiles()[name], mustBuild(f, name, goarch).prog})
		}
	}
	f.Fuzz(func(t *testing.T, sel uint8, nr uint32, a0, a1, a2 uint64, archSel uint32) {
		tg := targets[int(sel)%len(targets)]
		d := seccompData{nr: nr, arch: tg.a.audit, args: [6]uint64{a0, a1, a2, a0 ^ a1, a1 ^ a2, a2 ^ a0}}
		if archSel != 0 {
			d.arch = archSel
		}
		for _, n := range []uint32{nr, nr % 520} {
			d.nr = n
			got, err := interpret(tg.prog, d)
			if err != nil {
				t.Fatal(err)
			}
			if want := tg.p.verdict(tg.a, d); got != want {
				t.Fatalf("%s/%s nr %d arch %#x args %x: program %v, rules %v", tg.a.goarch, tg.p.name, d.nr, d.arch, d.args, got, want)
			}
		}
	})
}

// TestRandomDifferential adds random arguments on every conditional
// syscall, so the fuzz corpus is not the only source of odd values.
func TestRandomDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for goarch, a := range archs {
		for name, p := range profiles() {
			prog := mustBuild(t, name, goarch).prog
			for _, rl := range p.rules {
				nr, ok := a.table()[rl.name]
				if !ok || len(rl.clauses) == 0 {
					continue
				}
				for i := 0; i < 2000; i++ {
					d := seccompData{nr: nr, arch: a.audit}
					for j := range d.args {
						d.args[j] = r.Uint64() >> (r.IntN(4) * 16)
					}
					got, err := interpret(prog, d)
					if err != nil {
						t.Fatal(err)
					}
					if want := p.verdict(a, d); got != want {
						t.Fatalf("%s/%s %s args %x: program %v, rules %v", goarch, name, rl.name, d.args, got, want)
					}
				}
			}
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	if _, ok := archs[runtime.GOARCH]; !ok {
		b.Skip("no syscall table for " + runtime.GOARCH)
	}
	for _, name := range []string{"basic", "strict"} {
		b.Run(name+"/cached", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Build(name); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/compile", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := buildFor(name, runtime.GOARCH); r.err != nil {
					b.Fatal(r.err)
				}
			}
		})
	}
}

// BenchmarkInterpret measures the filter's path length: the worst case of
// the instructions the kernel runs per syscall is reported as insns/op.
func BenchmarkInterpret(b *testing.B) {
	for _, name := range []string{"basic", "strict"} {
		b.Run(name, func(b *testing.B) {
			a := archs["amd64"]
			prog := mustBuild(b, name, "amd64").prog
			d := seccompData{nr: a.table()["read"], arch: a.audit}
			for b.Loop() {
				if _, err := interpret(prog, d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestLongJumps compiles a synthetic profile whose actions alternate on
// every syscall number, so the search tree's left halves outgrow a jump
// offset and the JGE+JA form is used, and checks it like the real ones.
func TestLongJumps(t *testing.T) {
	a := archs["amd64"]
	p := &profile{name: "alternating", def: actionENOSYS}
	for name, nr := range a.table() {
		act := actionAllow
		if nr%2 == 1 {
			act = actionEPERM
		}
		r := rule{name: name, action: act}
		if nr%50 == 7 {
			r.clauses = []clause{when(actionAllow, eq(0, nr), masked(1, 0xf0, 0x30))}
		}
		p.rules = append(p.rules, r)
	}
	prog, _, err := compile(p, a)
	if err != nil {
		t.Fatal(err)
	}
	long := false
	for i, in := range prog[:len(prog)-1] {
		if in.Code == opJgeK && in.Jt == 0 && in.Jf == 1 && prog[i+1].Code == opJa && prog[i+1].K > 255 {
			long = true
		}
	}
	if !long {
		t.Fatalf("%d instructions and no long jump: the test does not reach the JGE+JA form", len(prog))
	}
	for nr := uint32(0); nr < 520; nr++ {
		for _, args := range [][6]uint64{{}, {uint64(nr), 0x35}, {uint64(nr), 0x45}} {
			d := seccompData{nr: nr, arch: a.audit, args: args}
			got, err := interpret(prog, d)
			if err != nil {
				t.Fatalf("nr %d: %v", nr, err)
			}
			if want := p.verdict(a, d); got != want {
				t.Fatalf("nr %d args %x: program %v, rules %v", nr, args, got, want)
			}
		}
	}
}
