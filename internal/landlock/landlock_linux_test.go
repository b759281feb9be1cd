package landlock_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kavach-go/kavach/internal/kavachtest"
	"github.com/kavach-go/kavach/internal/landlock"
	"github.com/kavach-go/kavach/internal/reexec"
)

func init() {
	// The probe restricts its own thread, then reports each access as
	// "name=ok" or "name=errno".
	reexec.Register("landlock-probe", func() {
		runtime.LockOSThread()
		rw, ro := os.Args[1], os.Args[2]
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			fmt.Println("nnp", err)
			os.Exit(1)
		}
		abi, _ := landlock.ABI()
		res, err := landlock.RestrictThread(landlock.Config{
			ABI: abi,
			Rules: []landlock.Rule{
				{Path: "/", Access: landlock.ReadAccess},
				{Path: rw, Access: landlock.HandledFS(abi)},
				{Path: "/does/not/exist", Access: landlock.ReadAccess, Optional: true},
			},
			Scoped: abi >= 6,
		})
		if err != nil {
			fmt.Println("restrict", err)
			os.Exit(1)
		}
		fmt.Printf("rules=%d skipped=%d\n", res.FSRules, len(res.Skipped))
		try := func(name, path string) {
			err := os.WriteFile(path, []byte("x"), 0o600)
			if err == nil {
				fmt.Println(name + "=ok")
				return
			}
			var errno syscall.Errno
			errors.As(err, &errno)
			fmt.Println(name + "=" + errno.Error())
		}
		try("rw", filepath.Join(rw, "f"))
		try("ro", filepath.Join(ro, "f"))
		if _, err := os.ReadFile("/proc/self/status"); err != nil {
			fmt.Println("read=" + err.Error())
		} else {
			fmt.Println("read=ok")
		}
		os.Exit(0)
	})
}

func init() {
	// The TCP probe allows connect and bind on the ports in os.Args[1],
	// then connects to os.Args[2..3] and binds os.Args[4..], reporting
	// "connect PORT=ok|errno" and "bind PORT=ok|errno".
	reexec.Register("landlock-tcp-probe", func() {
		runtime.LockOSThread()
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			fmt.Println("nnp", err)
			os.Exit(1)
		}
		var allowed []uint16
		for f := range strings.SplitSeq(os.Args[1], ",") {
			n, _ := strconv.Atoi(f)
			allowed = append(allowed, uint16(n))
		}
		abi, _ := landlock.ABI()
		res, err := landlock.RestrictThread(landlock.Config{
			ABI:         abi,
			Rules:       []landlock.Rule{{Path: "/", Access: landlock.HandledFS(abi)}},
			RestrictTCP: true,
			Ports:       allowed,
		})
		if err != nil {
			fmt.Println("restrict", err)
			os.Exit(1)
		}
		fmt.Printf("netrules=%d\n", res.NetRules)
		result := func(err error) string {
			if err == nil {
				return "ok"
			}
			return err.(syscall.Errno).Error()
		}
		for _, a := range os.Args[2:4] {
			port, _ := strconv.Atoi(a)
			fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			err := unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
			fmt.Printf("connect %d=%s\n", port, result(err))
			unix.Close(fd)
		}
		for _, a := range os.Args[4:] {
			port, _ := strconv.Atoi(a)
			fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
			fmt.Printf("bind %d=%s\n", port, result(err))
			unix.Close(fd)
		}
		os.Exit(0)
	})
}

func TestMain(m *testing.M) {
	reexec.Init()
	os.Exit(m.Run())
}

func TestRestrictThread(t *testing.T) {
	kavachtest.RequireLandlockABI(t, 1)
	rw, ro := t.TempDir(), t.TempDir()
	out, err := reexec.Command("landlock-probe", rw, ro).CombinedOutput()
	if err != nil {
		t.Fatalf("probe: %v: %s", err, out)
	}
	for _, want := range []string{"rules=2 skipped=1", "rw=ok", "ro=" + syscall.EACCES.Error(), "read=ok"} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("probe output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(ro, "f")); err == nil {
		t.Error("the restricted probe wrote to a read-only directory")
	}
}

// freePort returns a loopback TCP port that nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestRestrictTCP(t *testing.T) {
	kavachtest.RequireLandlockABI(t, 4)
	listen := func() (net.Listener, int) {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l, l.Addr().(*net.TCPAddr).Port
	}
	_, okConn := listen()
	_, badConn := listen()
	okBind, badBind := freePort(t), freePort(t)
	allowed := fmt.Sprintf("%d,%d", okConn, okBind)
	out, err := reexec.Command("landlock-tcp-probe", allowed,
		strconv.Itoa(okConn), strconv.Itoa(badConn), strconv.Itoa(okBind), strconv.Itoa(badBind), "0").CombinedOutput()
	if err != nil {
		t.Fatalf("probe: %v: %s", err, out)
	}
	denied := syscall.EACCES.Error()
	for _, want := range []string{
		"netrules=2",
		fmt.Sprintf("connect %d=ok", okConn),
		fmt.Sprintf("connect %d=%s", badConn, denied),
		fmt.Sprintf("bind %d=ok", okBind),
		fmt.Sprintf("bind %d=%s", badBind, denied),
		// An ephemeral port needs a rule for port 0, which kavach never
		// grants: the probe of `kavach verify` relies on it.
		"bind 0=" + denied,
	} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("probe output lacks %q:\n%s", want, out)
		}
	}
}

func TestHandledFS(t *testing.T) {
	tests := []struct {
		abi  int
		want uint64
	}{
		{1, 1<<13 - 1},
		{2, 1<<14 - 1},
		{3, 1<<15 - 1},
		{4, 1<<15 - 1},
		{5, 1<<16 - 1},
		{7, 1<<16 - 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.abi), func(t *testing.T) {
			if got := landlock.HandledFS(tt.abi); got != tt.want {
				t.Errorf("HandledFS(%d) = %#x, want %#x", tt.abi, got, tt.want)
			}
		})
	}
}
