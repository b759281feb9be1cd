package procinit

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kavach-go/kavach/internal/landlock"
	"github.com/kavach-go/kavach/internal/reexec"
	"github.com/kavach-go/kavach/internal/seccomp"
)

// init runs the sandbox init at once when this process was started in
// Role, before the package initialisers that run after this one (see
// the package doc: it saves the start of every sandbox the cost of the
// rest of the program's initialisation). Role is registered too, so
// that reexec.Init knows it.
func init() {
	reexec.Register(Role, initMain)
	if reexec.Current() == Role {
		initMain()
		exit(0)
	}
}

// stageError names the init stage that failed.
type stageError struct {
	stage string
	path  string
	err   error
}

func (e *stageError) Error() string { return e.stage + ": " + e.err.Error() }

func (e *stageError) Unwrap() error { return e.err }

func stage(name string, err error) error {
	if err == nil {
		return nil
	}
	return &stageError{stage: name, err: err}
}

func send(m Status) {
	b, _ := json.Marshal(m)
	b = append(b, '\n')
	_, _ = unix.Write(FDStatus, b)
}

func fail(err error) {
	m := Status{T: "error", Stage: "init", Msg: err.Error()}
	var se *stageError
	if errors.As(err, &se) {
		m.Stage, m.Path, m.Msg = se.stage, se.path, se.err.Error()
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		m.Errno = int(errno)
	}
	send(m)
	exit(1)
}

// exit ends the init at once. It skips os.Exit's hooks: in -race builds
// those sleep a second (the race runtime's atexit_sleep_ms) per sandbox.
func exit(code int) { syscall.Exit(code) }

// initMain is the sandbox init, pid 1 of the new namespaces.
func initMain() {
	// Everything that restricts the command is applied to this thread
	// only, and the command is forked from it.
	runtime.LockOSThread()
	// Descriptors kavach itself inherited without close-on-exec would
	// otherwise reach the command.
	if err := unix.CloseRange(FDConfig, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		cloexecAll()
	}
	// Not dumpable: processes of the sandbox cannot ptrace the init or
	// open its /proc files.
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	cfg, err := readConfig()
	if err != nil {
		fail(stage("read config", err))
	}
	// Signals come only from Proc.Signal, which exists once "started" is
	// sent: forwarding is set up on another thread while this one builds
	// the root and the last stage, and must be ready before "started"
	// (set up later, a spare's command would wait for the thread it needs
	// to start). The threads it needs exist before the command can
	// fork-bomb the pids limit.
	sigs := make(chan os.Signal, 16)
	notified := make(chan struct{})
	go func() {
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
			syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGCONT, syscall.SIGALRM)
		close(notified)
	}()
	// The pids group's file is opened before the root changes, and
	// joined by this thread only (see Config.PidsTasks).
	pidsFD := -1
	if cfg.PidsTasks != "" {
		if pidsFD, err = unix.Open(cfg.PidsTasks, unix.O_WRONLY|unix.O_CLOEXEC, 0); err != nil {
			fail(stage("open pids cgroup", err))
		}
	}
	if err := buildRoot(cfg); err != nil {
		fail(err)
	}
	if pidsFD >= 0 {
		if _, err := unix.Write(pidsFD, []byte("0")); err != nil {
			fail(stage("join pids cgroup", err))
		}
		unix.Close(pidsFD)
	}
	// The seccomp filter is built now, installed in the last stage: a
	// spare has it ready before its command comes.
	seccompApply, seccompErr := buildSeccomp(cfg.Seccomp)
	// The cgroup namespace is created now that the parent has put the
	// init in the sandbox's group (it does so before it sends the
	// config), so that the group is the root inside.
	if cfg.UnshareCgroup {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			fail(stage("unshare cgroup namespace", err))
		}
	}
	// A spare restricts its thread before it reports idle: the
	// restrictions depend on the sandbox, not on the command, and applied
	// now they are off the path of the command that comes.
	early := cfg.Spare
	if early {
		<-notified
		if err := restrictThread(cfg, seccompApply, seccompErr); err != nil {
			fail(err)
		}
	}
	if cfg.Spare {
		// A spare init waits here, its root built, for a command; the
		// parent runs Spec.Prepare before it sends one.
		send(Status{T: "idle"})
		if err := readCommand(cfg); err != nil {
			fail(stage("read command", err))
		}
	} else if cfg.WaitGo {
		send(Status{T: "ready"})
		var b [1]byte
		if n, err := unix.Read(FDConfig, b[:]); n != 1 {
			fail(stage("wait for parent", fmt.Errorf("read: %v", err)))
		}
	}
	unix.Close(FDConfig)
	if !early {
		if err := restrictThread(cfg, seccompApply, seccompErr); err != nil {
			fail(err)
		}
	}
	pid, err := startCommand(cfg)
	if err != nil {
		fail(err)
	}
	// The command has its own copies of stdio; with the init's closed
	// now, the parent sees its output end the moment the command (and
	// whatever it left holding them) is gone, while this process is
	// still being woken to reap it: the parent is awake when the status
	// comes, instead of being woken by it.
	for fd := range 3 {
		unix.Close(fd)
	}
	<-notified
	send(Status{T: "started"})
	go func() {
		for sig := range sigs {
			_ = unix.Kill(pid, sig.(syscall.Signal))
		}
	}()
	code, sig := reap(pid)
	send(Status{T: "exit", Code: code, Sig: sig})
	exit(0)
}

// cloexecAll marks every open descriptor above 2 close-on-exec, for
// kernels without close_range(CLOSE_RANGE_CLOEXEC).
func cloexecAll() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		fail(stage("list descriptors", err))
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

// configFile is fd 3; an *os.File made once, so that its finalizer
// never closes the descriptor between the two reads of a spare.
var configFile = os.NewFile(FDConfig, "config")

// readFrame reads one length-prefixed message from the config pipe.
func readFrame() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(configFile, hdr[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(configFile, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

func readConfig() (*Config, error) {
	buf, err := readFrame()
	if err != nil {
		return nil, err
	}
	var cfg Config
	if err := json.Unmarshal(buf, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// readCommand reads a spare's command part into cfg.
func readCommand(cfg *Config) error {
	buf, err := readFrame()
	if err != nil {
		return err
	}
	var c CommandPart
	if err := json.Unmarshal(buf, &c); err != nil {
		return err
	}
	if len(c.Args) == 0 {
		return errors.New("empty command")
	}
	cfg.Args, cfg.Env, cfg.Dir = c.Args, c.Env, c.Dir
	return nil
}

// reap reaps every child until the command has exited, then kills what
// is left in the pid namespace and reaps it too. It returns the command's
// exit code or signal.
func reap(pid int) (code, sig int) {
	done := false
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return code, sig
		}
		if wpid == pid && !done {
			done = true
			if ws.Signaled() {
				code, sig = -1, int(ws.Signal())
			} else {
				code = ws.ExitStatus()
			}
			// pid 1 is spared by kill(-1); everything else goes.
			_ = unix.Kill(-1, unix.SIGKILL)
		}
	}
}

// Mount flags the root's pieces get.
const (
	msRO = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV
)

func buildRoot(cfg *Config) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return stage("make mounts private", err)
	}
	R := cfg.Root
	var filesSize int
	for _, f := range cfg.Files {
		filesSize += len(f.Data) + 4096
	}
	rootOpts := fmt.Sprintf("mode=0755,size=%d", 4<<20+filesSize)
	if err := unix.Mount("kavach", R, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, rootOpts); err != nil {
		return stage("mount root tmpfs", err)
	}
	for _, e := range cfg.Entries {
		dst := R + e.Path
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return stage("mkdir "+e.Path, err)
		}
		switch {
		case e.Link != "":
			if err := os.Symlink(e.Link, dst); err != nil {
				return stage("symlink "+e.Path, err)
			}
		default:
			if err := bindRO(e.Path, dst, e.File); err != nil {
				return stage("bind "+e.Path, err)
			}
		}
	}
	for name, data := range cfg.Etc {
		if err := os.WriteFile(R+"/etc/"+name, []byte(data), 0o644); err != nil {
			return stage("write /etc/"+name, err)
		}
	}
	if err := buildDev(R); err != nil {
		return err
	}
	if err := buildProc(R); err != nil {
		return err
	}
	if err := os.Mkdir(R+"/tmp", 0o1777); err != nil {
		return stage("mkdir /tmp", err)
	}
	if cfg.TmpDir != "" {
		if err := unix.Mount(cfg.TmpDir, R+"/tmp", "", unix.MS_BIND, ""); err != nil {
			return stage("bind /tmp", err)
		}
	} else if err := unix.Mount("tmpfs", R+"/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("mode=1777,size=%dm", cfg.TmpSizeMB)); err != nil {
		return stage("mount /tmp", err)
	}
	if err := bindRW(cfg.Workdir, R+WorkdirPath, false); err != nil {
		return stage("bind workdir", err)
	}
	if cfg.DataDir != "" {
		if err := bindRW(cfg.DataDir, R+cfg.DataDir, false); err != nil {
			return stage("bind data_dir", err)
		}
	}
	for _, m := range cfg.Mounts {
		fi, err := os.Stat(m.Source)
		if err != nil {
			return stage("mount "+m.Target, err)
		}
		file := !fi.IsDir()
		if m.ReadOnly {
			err = bindRO(m.Source, R+m.Target, file)
		} else {
			err = bindRW(m.Source, R+m.Target, file)
		}
		if err != nil {
			return stage("mount "+m.Target, err)
		}
	}
	for _, f := range cfg.Files {
		dst := R + f.Path
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return stage("file "+f.Path, err)
		}
		if err := writeFileMode(dst, f.Data, f.Mode, cfg.UID, cfg.GID); err != nil {
			return stage("file "+f.Path, err)
		}
	}
	if err := unix.Sethostname([]byte("kavach")); err != nil {
		return stage("sethostname", err)
	}
	if cfg.OwnNet {
		if err := loopbackUp(); err != nil {
			return stage("bring up lo", err)
		}
	}
	if err := unix.Mount("", R+"/dev", "", unix.MS_REMOUNT|unix.MS_BIND|msRO|unix.MS_NOEXEC, ""); err != nil {
		return stage("remount /dev read-only", err)
	}
	if err := unix.Mount("", R, "", unix.MS_REMOUNT|unix.MS_BIND|msRO, ""); err != nil {
		return stage("remount root read-only", err)
	}
	// pivot_root(".", ".") stacks the old root on the new one; detaching
	// it leaves only the new root, with no directory for the old one.
	if err := unix.Chdir(R); err != nil {
		return stage("chdir root", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return stage("pivot_root", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return stage("detach old root", err)
	}
	return stage("chdir /", unix.Chdir("/"))
}

func writeFileMode(path string, data []byte, mode uint32, uid, gid int) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if err != nil {
			return err
		}
		data = data[n:]
	}
	if err := unix.Fchown(fd, uid, gid); err != nil {
		return err
	}
	return unix.Fchmod(fd, mode&0o7777)
}

var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

func buildDev(R string) error {
	dev := R + "/dev"
	if err := os.Mkdir(dev, 0o755); err != nil {
		return stage("mkdir /dev", err)
	}
	if err := unix.Mount("kavach-dev", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755,size=64k"); err != nil {
		return stage("mount /dev", err)
	}
	for _, d := range devices {
		if err := touch(dev + "/" + d); err != nil {
			return stage("create /dev/"+d, err)
		}
		// Device nodes cannot be made in a user namespace: bind the host's.
		if err := unix.Mount("/dev/"+d, dev+"/"+d, "", unix.MS_BIND, ""); err != nil {
			return stage("bind /dev/"+d, err)
		}
	}
	for name, target := range map[string]string{
		"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
		"stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx", "core": "/proc/kcore",
	} {
		if name == "core" {
			continue
		}
		if err := os.Symlink(target, dev+"/"+name); err != nil {
			return stage("symlink /dev/"+name, err)
		}
	}
	for _, d := range []string{"pts", "shm"} {
		if err := os.Mkdir(dev+"/"+d, 0o755); err != nil {
			return stage("mkdir /dev/"+d, err)
		}
	}
	if err := unix.Mount("devpts", dev+"/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return stage("mount /dev/pts", err)
	}
	if err := unix.Mount("shm", dev+"/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777,size=64m"); err != nil {
		return stage("mount /dev/shm", err)
	}
	return nil
}

// procMasked are /proc files hidden behind /dev/null; procReadOnly are
// bound read-only over themselves. The command holds no capability in
// any namespace and the rest of /proc that could change the kernel
// (bus, fs, irq) belongs to the host's root, which is unmapped inside, so
// the list stays short: each entry costs two mount calls per start.
var (
	procMasked   = []string{"kcore", "keys", "timer_list", "sysrq-trigger", "latency_stats", "sched_debug"}
	procReadOnly = []string{"sys"}
)

func buildProc(R string) error {
	p := R + "/proc"
	if err := os.Mkdir(p, 0o555); err != nil {
		return stage("mkdir /proc", err)
	}
	if err := unix.Mount("proc", p, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return stage("mount /proc", err)
	}
	for _, m := range procMasked {
		err := unix.Mount(R+"/dev/null", p+"/"+m, "", unix.MS_BIND, "")
		if err != nil && err != unix.ENOENT {
			return stage("mask /proc/"+m, err)
		}
	}
	for _, m := range procReadOnly {
		err := unix.Mount(p+"/"+m, p+"/"+m, "", unix.MS_BIND|unix.MS_REC, "")
		if err == unix.ENOENT {
			continue
		}
		if err == nil {
			err = remountRO(p + "/" + m)
		}
		if err != nil {
			return stage("read-only /proc/"+m, err)
		}
	}
	return nil
}

func touch(path string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

func mkTarget(dst string, file bool) error {
	if file {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return touch(dst)
	}
	return os.MkdirAll(dst, 0o755)
}

func bindRO(src, dst string, file bool) error {
	if err := mkTarget(dst, file); err != nil {
		return err
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	return remountRO(dst)
}

func bindRW(src, dst string, file bool) error {
	if err := mkTarget(dst, file); err != nil {
		return err
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	return unix.Mount("", dst, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_NOSUID|unix.MS_NODEV|lockedFlags(dst), "")
}

// lockedFlags returns the flags of the mount at path that a user
// namespace may not clear on remount.
func lockedFlags(path string) uintptr {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0
	}
	var f uintptr
	for _, m := range []struct{ st, ms int64 }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
		{unix.ST_RDONLY, unix.MS_RDONLY},
	} {
		if st.Flags&m.st != 0 {
			f |= uintptr(m.ms)
		}
	}
	return f
}

func remountRO(dst string) error {
	return unix.Mount("", dst, "", unix.MS_REMOUNT|unix.MS_BIND|msRO|lockedFlags(dst), "")
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// Linux capability ABI (linux/capability.h).
const capV3 = 0x20080522

type capHeader struct {
	version uint32
	pid     int32
}

type capData struct{ effective, permitted, inheritable uint32 }

// Secure bits that keep uid 0 without capabilities for good.
const securebitsNoRoot = 1<<0 | 1<<1 | // NOROOT, locked
	1<<2 | 1<<3 | // NO_SETUID_FIXUP, locked
	1<<5 | // KEEP_CAPS locked (off)
	1<<6 | 1<<7 // NO_CAP_AMBIENT_RAISE, locked

func rawErr(name string, errno syscall.Errno) error {
	if errno == 0 {
		return nil
	}
	return stage(name, errno)
}

// buildSeccomp builds the filter of profile, if any, without installing
// it.
func buildSeccomp(profile string) (func() error, error) {
	if profile == "" {
		return nil, nil
	}
	f, err := seccomp.Build(profile)
	if err != nil {
		return nil, err
	}
	return f.Apply, nil
}

// restrictThread restricts the locked thread the command is forked from:
// bounding set, credentials, capabilities, no_new_privs, Landlock and
// seccomp; seccompApply installs the filter buildSeccomp built (or
// seccompErr is why it could not).
func restrictThread(cfg *Config, seccompApply func() error, seccompErr error) error {
	for c := 0; c <= cfg.LastCap; c++ {
		if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0, 0); e != 0 && e != unix.EINVAL {
			return rawErr("drop bounding capabilities", e)
		}
	}
	if cfg.Root0 {
		if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_SECUREBITS, securebitsNoRoot, 0, 0, 0, 0); e != 0 {
			return rawErr("set securebits", e)
		}
	} else {
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); e != 0 {
			return rawErr("setgroups", e)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(cfg.GID), uintptr(cfg.GID), uintptr(cfg.GID)); e != 0 {
			return rawErr("setresgid", e)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(cfg.UID), uintptr(cfg.UID), uintptr(cfg.UID)); e != 0 {
			return rawErr("setresuid", e)
		}
	}
	if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); e != 0 {
		return rawErr("clear ambient capabilities", e)
	}
	hdr := capHeader{version: capV3}
	var data [2]capData
	if _, _, e := unix.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return rawErr("capset", e)
	}
	if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		return rawErr("no_new_privs", e)
	}
	if cfg.Landlock != nil {
		if _, err := landlock.RestrictThread(landlock.Config{
			ABI:         cfg.Landlock.ABI,
			Rules:       cfg.Landlock.Rules,
			RestrictTCP: cfg.Landlock.RestrictTCP,
			Ports:       cfg.Landlock.Ports,
			Scoped:      cfg.Landlock.Scoped,
		}); err != nil {
			return stage("landlock", err)
		}
	}
	if cfg.Seccomp != "" {
		if seccompApply == nil && seccompErr == nil {
			seccompApply, seccompErr = buildSeccomp(cfg.Seccomp)
		}
		if seccompErr != nil {
			return stage("seccomp", seccompErr)
		}
		if err := seccompApply(); err != nil {
			return stage("seccomp", err)
		}
	}
	return nil
}

// startCommand forks and executes the command from the restricted
// thread, looking it up on its PATH with the command's credentials, under
// cfg's rlimits.
func startCommand(cfg *Config) (int, error) {
	path, err := lookPath(cfg.Args[0], cfg.Env)
	if err != nil {
		return 0, &stageError{stage: "exec", path: cfg.Args[0], err: err}
	}
	attr := &syscall.ProcAttr{
		Dir:   cfg.Dir,
		Env:   cfg.Env,
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	}
	// rlimits are per process, and Go runs no code between fork and exec:
	// the command can only inherit them. They are set as late as that
	// allows, after everything the init prepares, and bind the init from
	// then on too, which is why the memory stand-in is RLIMIT_DATA (see
	// the rlimit fallback in backend/process).
	for _, r := range cfg.Rlimits {
		lim := unix.Rlimit{Cur: r.Value, Max: r.Value}
		if err := unix.Prlimit(0, r.Resource, &lim, nil); err != nil {
			return 0, stage("rlimit", err)
		}
	}
	pid, err := syscall.ForkExec(path, cfg.Args, attr)
	if err != nil {
		return 0, &stageError{stage: "exec", path: cfg.Args[0], err: err}
	}
	return pid, nil
}

// lookPath finds name on the command's PATH, as the command's credentials
// see it.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, checkExec(name)
	}
	pathEnv := "/usr/local/bin:/usr/bin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	var firstErr error = unix.ENOENT
	for dir := range strings.SplitSeq(pathEnv, ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + name
		err := checkExec(p)
		if err == nil {
			return p, nil
		}
		if err != unix.ENOENT && err != unix.ENOTDIR && firstErr == unix.ENOENT {
			firstErr = err
		}
	}
	return "", firstErr
}

func checkExec(p string) error {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.EACCES
	}
	return unix.Faccessat(unix.AT_FDCWD, p, unix.X_OK, unix.AT_EACCESS)
}
