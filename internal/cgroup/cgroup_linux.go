package cgroup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Host describes the usable hierarchy, detected once.
type Host struct {
	Version int               // 1 or 2
	Root    string            // v2: mount point of the unified hierarchy
	Mounts  map[string]string // v1: controller → mount point
}

var detectOnce = sync.OnceValues(detect)

// Detect returns the host's usable hierarchy (cached), or an error
// wrapping ErrUnavailable that says why none is usable.
func Detect() (Host, error) { return detectOnce() }

func detect() (Host, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return Host{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	v1, v2 := parseMountinfo(string(data))
	var why []string
	if v2 != "" {
		ctrl, err := os.ReadFile(filepath.Join(v2, "cgroup.controllers"))
		have := strings.Fields(string(ctrl))
		missing := missingOf(have, "memory", "pids", "cpu")
		switch {
		case err != nil:
			why = append(why, fmt.Sprintf("cgroup2 at %s: %v", v2, err))
		case len(missing) > 0:
			why = append(why, fmt.Sprintf("cgroup2 at %s lacks controllers %s", v2, strings.Join(missing, ",")))
		case syscall.Access(filepath.Join(v2, "cgroup.subtree_control"), 2) != nil:
			why = append(why, fmt.Sprintf("cgroup2 at %s is not writable", v2))
		default:
			return Host{Version: 2, Root: v2}, nil
		}
	}
	var missing []string
	for _, c := range v1Controllers {
		if _, ok := v1[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		why = append(why, "cgroup v1 controllers not mounted: "+strings.Join(missing, ","))
		return Host{}, fmt.Errorf("%w: %s", ErrUnavailable, strings.Join(why, "; "))
	}
	for _, c := range v1Controllers {
		if err := syscall.Access(v1[c], 2); err != nil {
			return Host{}, fmt.Errorf("%w: cgroup v1 %s at %s is not writable: %v", ErrUnavailable, c, v1[c], err)
		}
	}
	return Host{Version: 1, Mounts: v1}, nil
}

func missingOf(have []string, want ...string) []string {
	var out []string
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			out = append(out, w)
		}
	}
	return out
}

// Cgroup is one sandbox's group, in every hierarchy it spans.
type Cgroup struct {
	version int
	// dirs are the group's directories: one per v1 controller (in
	// v1Controllers order) or the single v2 directory. They do not change
	// after New, so methods may run concurrently with Delete, and fail
	// with ErrDeleted (or a not-exist error) once it has removed them.
	dirs    []string
	deleted atomic.Bool
}

// New creates the group name under the kavach parent of h and applies l.
// On error nothing is left behind.
func New(h Host, name string, l Limits) (*Cgroup, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return nil, fmt.Errorf("create cgroup %q: invalid name", name)
	}
	c := &Cgroup{version: h.Version}
	var err error
	switch h.Version {
	case 1:
		err = c.createV1(h, name, l)
	case 2:
		err = c.createV2(h, name, l)
	default:
		err = fmt.Errorf("%w: no hierarchy", ErrUnavailable)
	}
	if err != nil {
		_ = c.rmdirs()
		return nil, fmt.Errorf("create cgroup %s: %w", name, err)
	}
	return c, nil
}

func (c *Cgroup) createV1(h Host, name string, l Limits) error {
	for _, ctrl := range v1Controllers {
		parent := filepath.Join(h.Mounts[ctrl], ParentName)
		if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		c.dirs = append(c.dirs, dir)
	}
	mem, pids, cpu := c.dirs[0], c.dirs[1], c.dirs[2]
	if l.MemoryBytes > 0 {
		v := strconv.FormatUint(l.MemoryBytes, 10)
		if err := write(mem, "memory.limit_in_bytes", v); err != nil {
			return err
		}
		// memsw exists only with swap accounting; without it swappiness 0
		// is the closest the kernel offers.
		if err := write(mem, "memory.memsw.limit_in_bytes", v); err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				return err
			}
			if err := write(mem, "memory.swappiness", "0"); err != nil {
				return err
			}
		}
	}
	if l.Pids > 0 {
		if err := write(pids, "pids.max", strconv.FormatUint(uint64(l.Pids), 10)); err != nil {
			return err
		}
	}
	if l.CPU > 0 {
		if err := write(cpu, "cpu.cfs_period_us", strconv.Itoa(cpuPeriod)); err != nil {
			return err
		}
		if err := write(cpu, "cpu.cfs_quota_us", strconv.FormatInt(cpuQuota(l.CPU), 10)); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cgroup) createV2(h Host, name string, l Limits) error {
	// The controllers the limits need must be there; the others of
	// memory, pids and cpu are enabled when the hierarchy has them (pids
	// also feeds the fork-bomb guard). Freezing and killing need none.
	ctrl, err := os.ReadFile(filepath.Join(h.Root, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	have := strings.Fields(string(ctrl))
	var need []string
	if l.MemoryBytes > 0 {
		need = append(need, "memory")
	}
	if l.Pids > 0 {
		need = append(need, "pids")
	}
	if l.CPU > 0 {
		need = append(need, "cpu")
	}
	if missing := missingOf(have, need...); len(missing) > 0 {
		return fmt.Errorf("%w: cgroup2 at %s lacks controllers %s", ErrUnavailable, h.Root, strings.Join(missing, ","))
	}
	var enable []string
	for _, name := range []string{"memory", "pids", "cpu"} {
		if len(missingOf(have, name)) == 0 {
			enable = append(enable, "+"+name)
		}
	}
	if len(enable) > 0 {
		if err := write(h.Root, "cgroup.subtree_control", strings.Join(enable, " ")); err != nil {
			return err
		}
	}
	parent := filepath.Join(h.Root, ParentName)
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if len(enable) > 0 {
		if err := write(parent, "cgroup.subtree_control", strings.Join(enable, " ")); err != nil {
			return err
		}
	}
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	c.dirs = []string{dir}
	if l.MemoryBytes > 0 {
		if err := write(dir, "memory.max", strconv.FormatUint(l.MemoryBytes, 10)); err != nil {
			return err
		}
		if err := write(dir, "memory.swap.max", "0"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if l.Pids > 0 {
		if err := write(dir, "pids.max", strconv.FormatUint(uint64(l.Pids), 10)); err != nil {
			return err
		}
	}
	if l.CPU > 0 {
		if err := write(dir, "cpu.max", fmt.Sprintf("%d %d", cpuQuota(l.CPU), cpuPeriod)); err != nil {
			return err
		}
	}
	return nil
}

// Version returns 1 or 2.
func (c *Cgroup) Version() int { return c.version }

// Dirs returns the group's directories (one per v1 controller, or one).
func (c *Cgroup) Dirs() []string { return append([]string(nil), c.dirs...) }

// Add moves pid into the group.
func (c *Cgroup) Add(pid int) error {
	v := strconv.Itoa(pid)
	for _, d := range c.dirs {
		if err := write(d, "cgroup.procs", v); err != nil {
			return fmt.Errorf("add pid %d to cgroup: %w", pid, err)
		}
	}
	return nil
}

// StartIn runs start on an OS thread that has moved itself, and only
// itself, into the group, then moves the thread back where it was:
// processes start forks are born in the group.
//
// Moving a whole process into a cgroup (Add) takes the kernel's global
// threadgroup lock for writing, which waits for an RCU grace period:
// tens of milliseconds on a busy machine. A thread that moves itself
// skips that lock, so a sandbox started through StartIn joins its group
// in microseconds. While start runs, this process is a member of the
// group: callers must not freeze, kill or delete the group concurrently.
// It works with v1, whose per-thread "tasks" files take
// "0" for the calling thread; v2 returns ErrUnavailable (use FD and
// CLONE_INTO_CGROUP there). When moving in fails, start is not called
// and the error wraps ErrNotStarted; otherwise StartIn returns start's
// error as is.
func (c *Cgroup) StartIn(start func() error) error { return c.StartInExcept("", start) }

// StartInExcept is StartIn leaving out the v1 controller except ("pids"
// for instance), which the started process joins by itself later.
func (c *Cgroup) StartInExcept(except string, start func() error) error {
	if c.version != 1 {
		return fmt.Errorf("start in cgroup: %w: %w: v2 moves threads only in threaded groups", ErrNotStarted, ErrUnavailable)
	}
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := threadHome()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- err
			return
		}
		var moved []string
		for i, d := range c.dirs {
			if v1Controllers[i] == except {
				continue
			}
			if err = write(d, "tasks", "0"); err != nil {
				break
			}
			moved = append(moved, d)
		}
		if err == nil {
			err = errStarted(start())
		}
		back := true
		for _, d := range moved {
			if h, ok := home[filepath.Base(filepath.Dir(filepath.Dir(d)))]; !ok || write(h, "tasks", "0") != nil {
				back = false
			}
		}
		if back {
			runtime.UnlockOSThread()
		}
		// Otherwise the thread stays locked and Go ends it with this
		// goroutine, out of the group's way.
		ch <- err
	}()
	err := <-ch
	var se startedError
	if errors.As(err, &se) {
		return se.err
	}
	if err != nil {
		return fmt.Errorf("start in cgroup: %w: %w", ErrNotStarted, err)
	}
	return nil
}

// startedError carries start's own error through StartIn unwrapped.
type startedError struct{ err error }

func (e startedError) Error() string { return e.err.Error() }

func errStarted(err error) error {
	if err == nil {
		return nil
	}
	return startedError{err}
}

// threadHome returns, for each v1 controller, the directory of the
// calling thread's current group.
func threadHome() (map[string]string, error) {
	h, err := Detect()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return nil, err
	}
	home := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for ctrl := range strings.SplitSeq(parts[1], ",") {
			if m, ok := h.Mounts[ctrl]; ok {
				home[ctrl] = filepath.Join(m, parts[2])
			}
		}
	}
	return home, nil
}

// AddExcept moves pid into the group, except for the v1 controller
// except.
func (c *Cgroup) AddExcept(pid int, except string) error {
	v := strconv.Itoa(pid)
	for i, d := range c.dirs {
		if c.version == 1 && v1Controllers[i] == except {
			continue
		}
		if err := write(d, "cgroup.procs", v); err != nil {
			return fmt.Errorf("add pid %d to cgroup: %w", pid, err)
		}
	}
	return nil
}

// DelegateTasks makes the v1 controller's per-thread "tasks" file of the
// group writable by uid and gid, so that a thread running as them (a
// sandbox init in a user namespace) can move itself into the group. It
// returns the file's path.
func (c *Cgroup) DelegateTasks(ctrl string, uid, gid int) (string, error) {
	if c.version != 1 {
		return "", fmt.Errorf("delegate %s tasks: %w: v1 only", ctrl, ErrUnavailable)
	}
	for i, d := range c.dirs {
		if v1Controllers[i] == ctrl {
			f := filepath.Join(d, "tasks")
			if err := os.Chown(f, uid, gid); err != nil {
				return "", fmt.Errorf("delegate %s tasks: %w", ctrl, err)
			}
			return f, nil
		}
	}
	return "", fmt.Errorf("delegate %s tasks: no such controller", ctrl)
}

// FD opens the group's v2 directory for clone3's CLONE_INTO_CGROUP
// (syscall.SysProcAttr.UseCgroupFD); the caller closes it.
func (c *Cgroup) FD() (*os.File, error) {
	if c.version != 2 {
		return nil, fmt.Errorf("open cgroup directory: %w: only v2 supports CLONE_INTO_CGROUP", ErrUnavailable)
	}
	return os.Open(c.dirs[0])
}

// Procs returns the pids in the group.
func (c *Cgroup) Procs() ([]int, error) {
	if c.deleted.Load() {
		return nil, ErrDeleted
	}
	// In v1 the pids hierarchy holds every member; in v2 there is one.
	dir := c.dirs[0]
	if c.version == 1 {
		dir = c.dirs[1]
	}
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, fmt.Errorf("read cgroup procs: %w", err)
	}
	var pids []int
	for f := range strings.FieldsSeq(string(data)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids, nil
}

// OOMKills returns how many processes the group's memory limit killed (0
// for a group without the memory controller).
func (c *Cgroup) OOMKills() (uint64, error) {
	if c.deleted.Load() {
		return 0, ErrDeleted
	}
	file := "memory.events"
	if c.version == 1 {
		file = "memory.oom_control"
	}
	data, err := os.ReadFile(filepath.Join(c.dirs[0], file))
	if errors.Is(err, os.ErrNotExist) {
		// A group without the memory controller (a v2 hierarchy that
		// lacks it; the group then has no memory limit) counts nothing.
		if _, derr := os.Stat(c.dirs[0]); derr == nil {
			return 0, nil
		}
	}
	if err != nil {
		return 0, fmt.Errorf("read oom count: %w", err)
	}
	return parseCount(data, "oom_kill")
}

// Freeze stops every process in the group and returns once they are all
// frozen, or ctx ends.
func (c *Cgroup) Freeze(ctx context.Context) error {
	if c.version == 1 {
		return c.setFreezerV1(ctx, "FROZEN")
	}
	return c.setFreezeV2(ctx, "1")
}

// Thaw resumes a frozen group.
func (c *Cgroup) Thaw(ctx context.Context) error {
	if c.version == 1 {
		return c.setFreezerV1(ctx, "THAWED")
	}
	return c.setFreezeV2(ctx, "0")
}

func (c *Cgroup) setFreezerV1(ctx context.Context, state string) error {
	dir := c.dirs[3]
	for {
		if err := write(dir, "freezer.state", state); err != nil {
			return fmt.Errorf("set freezer %s: %w", state, err)
		}
		got, err := os.ReadFile(filepath.Join(dir, "freezer.state"))
		if err != nil {
			return fmt.Errorf("read freezer state: %w", err)
		}
		if strings.TrimSpace(string(got)) == state {
			return nil
		}
		if err := sleep(ctx, time.Millisecond); err != nil {
			return fmt.Errorf("set freezer %s: %w", state, err)
		}
	}
}

func (c *Cgroup) setFreezeV2(ctx context.Context, v string) error {
	dir := c.dirs[0]
	if err := write(dir, "cgroup.freeze", v); err != nil {
		return fmt.Errorf("set cgroup.freeze %s: %w", v, err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
		if err != nil {
			return fmt.Errorf("read cgroup events: %w", err)
		}
		if strings.Contains(string(data), "frozen "+v) {
			return nil
		}
		if err := sleep(ctx, time.Millisecond); err != nil {
			return fmt.Errorf("set cgroup.freeze %s: %w", v, err)
		}
	}
}

// Kill sends SIGKILL to every member. A v1 group is frozen first so that
// no member can fork past the kill; it is left thawed.
func (c *Cgroup) Kill(ctx context.Context) error {
	if c.version == 2 {
		if err := write(c.dirs[0], "cgroup.kill", "1"); err == nil {
			return nil
		}
	}
	frozen := c.version == 1 && c.Freeze(ctx) == nil
	pids, err := c.Procs()
	self := os.Getpid()
	for _, p := range pids {
		// A thread of this process is in the group only inside StartIn;
		// never kill ourselves for it.
		if p != self {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
	if frozen {
		if terr := c.Thaw(ctx); err == nil {
			err = terr
		}
	}
	return err
}

// Delete kills every member, waits until the group is empty and removes
// it. It is idempotent.
func (c *Cgroup) Delete(ctx context.Context) error {
	if c.deleted.Load() {
		return nil
	}
	for {
		pids, err := c.Procs()
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrDeleted) {
			break
		}
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			break
		}
		if err := c.Kill(ctx); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := sleep(ctx, time.Millisecond); err != nil {
			return fmt.Errorf("delete cgroup: %w: %v", ErrNotEmpty, err)
		}
	}
	if err := c.rmdirs(); err != nil {
		return fmt.Errorf("delete cgroup: %w", err)
	}
	return nil
}

func (c *Cgroup) rmdirs() error {
	var first error
	for _, d := range c.dirs {
		// A just-emptied group can report EBUSY for a moment.
		var err error
		for range 100 {
			if err = syscall.Rmdir(d); err != syscall.EBUSY {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if err != nil && err != syscall.ENOENT && first == nil {
			first = fmt.Errorf("rmdir %s: %w", d, err)
		}
	}
	if first == nil {
		c.deleted.Store(true)
	}
	return first
}

func write(dir, file, v string) error {
	f, err := os.OpenFile(filepath.Join(dir, file), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(v)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s to %s/%s: %w", v, dir, file, err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
