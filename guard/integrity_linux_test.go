package guard

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/kavach-go/kavach/internal/kavachtest"
)

func TestCheckIntegrityHostIsShared(t *testing.T) {
	kavachtest.RequireLinux(t)
	ctx := context.Background()
	host, err := ReadNamespaces(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range RequiredNamespaces() {
		if host[name] == 0 {
			t.Fatalf("ReadNamespaces gave no %s: %v", name, host)
		}
	}
	r, err := CheckIntegrity(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	if r.Intact {
		t.Fatalf("the test process itself claims private namespaces: %+v", r)
	}
	for _, c := range r.Checks {
		if c.Status != Shared {
			t.Errorf("%s: %s (%s), want shared", c.Name, c.Status, c.Detail)
		}
	}
	if len(r.Violations()) != len(r.Checks) {
		t.Errorf("violations %v", r.Violations())
	}
}

// TestCheckIntegrityNoReference checks that without a host reference the
// check never claims Private.
func TestCheckIntegrityNoReference(t *testing.T) {
	kavachtest.RequireLinux(t)
	r, err := CheckIntegrity(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	own, err := ReadNamespaces(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Intact {
		t.Fatal("intact without a reference")
	}
	for _, c := range r.Checks {
		want := Unknown
		if init, ok := initialInode[c.Name]; ok && own[c.Name] == init {
			want = Shared
		}
		if c.Status != want {
			t.Errorf("%s: %s (%s), want %s", c.Name, c.Status, c.Detail, want)
		}
	}
}

// TestCheckIntegrityInNamespaces re-executes the test binary in new
// namespaces and checks the report it prints from inside.
func TestCheckIntegrityInNamespaces(t *testing.T) {
	kavachtest.RequireRoot(t)
	host, err := ReadNamespaces(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	all := uintptr(syscall.CLONE_NEWUSER | syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWNET)
	tests := []struct {
		name    string
		flags   uintptr
		ref     Namespaces
		private []string
		intact  bool
	}{
		{"required four private", all, host.Select(RequiredNamespaces()...), []string{"pid", "mnt", "user", "net"}, true},
		{"seven private", all | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS | syscall.CLONE_NEWCGROUP,
			host.Select("pid", "mnt", "user", "net", "ipc", "uts", "cgroup"), []string{"pid", "mnt", "user", "net", "ipc", "uts", "cgroup"}, true},
		{"ipc asked for but shared", all, host.Select("pid", "mnt", "user", "net", "ipc"), []string{"pid", "mnt", "user", "net"}, false},
		{"only user and net", syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET, host.Select(RequiredNamespaces()...), []string{"user", "net"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = []string{childEnv + "=1", hostNSEnv + "=" + tt.ref.String()}
			cmd.SysProcAttr = &syscall.SysProcAttr{
				Cloneflags:  tt.flags,
				UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
				GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
			}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v: %s", err, out)
			}
			var r IntegrityReport
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("child output %q: %v", out, err)
			}
			if r.Intact != tt.intact {
				t.Errorf("intact = %v, want %v: %+v", r.Intact, tt.intact, r.Checks)
			}
			if len(r.Checks) != len(tt.ref) {
				t.Errorf("%d checks, want %d: %+v", len(r.Checks), len(tt.ref), r.Checks)
			}
			for _, c := range r.Checks {
				want := Shared
				for _, p := range tt.private {
					if c.Name == p {
						want = Private
					}
				}
				if c.Status != want {
					t.Errorf("%s: %s (%s), want %s", c.Name, c.Status, c.Detail, want)
				}
			}
		})
	}
}
