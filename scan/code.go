package scan

import (
	"bytes"
	"regexp"
	"sync"
)

// codeRule builds a code scanner rule.
func codeRule(id, category string, sev Severity, message string, keywords []string,
	match func(b []byte, ks, ke int) (int, int, bool)) *rule {
	return &rule{scanner: "code", id: id, category: category, severity: sev, message: message,
		keywords: keywords, match: match}
}

// withGate declares what r's match asks of the keyword's surroundings
// (rule.wordStart, rule.follows).
func withGate(r *rule, wordStart bool, follows func(c byte) bool) *rule {
	r.wordStart, r.follows = wordStart, follows
	return r
}

// word matches the keyword (case-insensitively, as the original's
// lower-cased substring search) with a word boundary before it, and, when
// the keyword ends in a letter or digit, one after it too.
func word(b []byte, ks, ke int) (int, int, bool) {
	if wordBefore(b, ks) || manPage(b, ks, ke) {
		return 0, 0, false
	}
	if isWord(b[ke-1]) && wordAt(b, ke) {
		return 0, 0, false
	}
	return ks, ke, true
}

// manPage reports whether a keyword that ends in '(' is a manual page
// reference such as "mount(8)" or "exec(3)" rather than a call.
func manPage(b []byte, ks, ke int) bool {
	return b[ke-1] == '(' && ke+1 < len(b) && isDigit(b[ke]) && (b[ke+1] == ')' || isAlnum(b[ke+1]) && ke+2 < len(b) && b[ke+2] == ')')
}

// command matches a keyword that names a shell command ("chmod ") only when
// an argument follows on the same line: an option, a path, a number or a
// name, not the end of a sentence.
func command(b []byte, ks, ke int) (int, int, bool) {
	if _, _, ok := word(b, ks, ke); !ok {
		return 0, 0, false
	}
	p := ke
	for p < len(b) && (b[p] == ' ' || b[p] == '\t') {
		p++
	}
	if p >= len(b) || b[p] == '\n' || b[p] == '\r' || b[p] == '.' || b[p] == ',' {
		return 0, 0, false
	}
	return ks, ke, true
}

// netCommand matches a network tool's name only when its argument looks
// like one: an option, an address or a host name with a dot.
func netCommand(b []byte, ks, ke int) (int, int, bool) {
	if _, _, ok := command(b, ks, ke); !ok {
		return 0, 0, false
	}
	p := ke
	for p < len(b) && (b[p] == ' ' || b[p] == '\t') {
		p++
	}
	if b[p] == '-' || isDigit(b[p]) {
		return ks, ke, true
	}
	for q := p; q < len(b) && q < p+256 && isWord(b[q]) || q < len(b) && (b[q] == '.' || b[q] == ':' || b[q] == '-'); q++ {
		if (b[q] == '.' || b[q] == ':') && q+1 < len(b) && isAlnum(b[q+1]) {
			return ks, ke, true
		}
	}
	return 0, 0, false
}

// regexpAt matches re (anchored with ^) at the keyword, within one line.
func regexpAt(re string, boundBefore bool) func(b []byte, ks, ke int) (int, int, bool) {
	r := regexp.MustCompile(re)
	return func(b []byte, ks, ke int) (int, int, bool) {
		if boundBefore && wordBefore(b, ks) {
			return 0, 0, false
		}
		end := ks + 512
		if nl := bytes.IndexByte(b[ks:min(len(b), end)], '\n'); nl >= 0 {
			end = ks + nl
		}
		m := r.FindIndex(b[ks:min(len(b), end)])
		if m == nil {
			return 0, 0, false
		}
		return ks, ks + m[1], true
	}
}

// digCommand and pipeToInterpreter are compiled once, outside the match
// functions that call them, and on first use rather than at package init:
// every program linking kavach, each sandbox init included, would
// otherwise compile them at start.
var (
	digCommand = sync.OnceValue(func() func(b []byte, ks, ke int) (int, int, bool) {
		return regexpAt(`^(?i:dig)\s+(?:@|[+-][a-z]|[a-z0-9-]+\.[a-z0-9.-]*[a-z])`, true)
	})
	pipeToInterpreter = sync.OnceValue(func() func(b []byte, ks, ke int) (int, int, bool) {
		return regexpAt(`^(?i:curl|wget)\s[^|\n]{0,300}\|\s*(?:sudo\s+)?(?:python[0-9.]*|perl|ruby|node|php)\b`, true)
	})
)

// regexObjects are receivers whose exec( is a regexp or database call, not
// a process: "re.exec(", "cursor.exec(".
var regexObjects = []string{"re", "regex", "regexp", "rx", "pattern", "cursor", "db", "stmt", "conn", "tx", "query"}

// execCall matches "exec(" as a call of its own or on an object that is not
// a regexp or a database handle.
func execCall(b []byte, ks, ke int) (int, int, bool) {
	if ks > 0 && b[ks-1] == '.' {
		s := ks - 1
		for s > 0 && isWord(b[s-1]) {
			s--
		}
		recv := bytes.ToLower(b[s : ks-1])
		for _, o := range regexObjects {
			if string(recv) == o {
				return 0, 0, false
			}
		}
		return ks, ke, true
	}
	return word(b, ks, ke)
}

// escapeRun matches a run of at least n escapes of the form prefix+hex
// digits (width digits each) starting at the keyword. Only the first escape
// of a run starts a match, so a long run is walked once, not once per
// escape in it.
func escapeRun(prefix string, width, n int) func(b []byte, ks, ke int) (int, int, bool) {
	step := len(prefix) + width
	at := func(b []byte, p int) bool {
		if p < 0 || p+step > len(b) || b[p] != prefix[0] || fold[b[p+1]] != prefix[1] {
			return false
		}
		for _, c := range b[p+len(prefix) : p+step] {
			if !isHex(c) {
				return false
			}
		}
		return true
	}
	return func(b []byte, ks, ke int) (int, int, bool) {
		if at(b, ks-step) {
			return 0, 0, false // inside a run already matched from its start
		}
		p, count := ks, 0
		for at(b, p) {
			p += step
			count++
		}
		if count < n {
			return 0, 0, false
		}
		return ks, p, true
	}
}

// traversal matches "../" (or "..\") repeated three times or more, or
// leading to a system directory, or percent-encoded: the ordinary relative
// paths of build output ("../lib/x.go") are no finding.
func traversal(b []byte, ks, ke int) (int, int, bool) {
	if ks > 0 && (b[ks-1] == '.' || isWord(b[ks-1])) {
		return 0, 0, false
	}
	p, n := ks, 0
	for p+3 <= len(b) && b[p] == '.' && b[p+1] == '.' && (b[p+2] == '/' || b[p+2] == '\\') {
		p += 3
		n++
	}
	if n == 0 {
		return 0, 0, false
	}
	if n >= 3 {
		return ks, p, true
	}
	for _, d := range []string{"etc/", "etc\\", "proc/", "root/", "boot/", "windows", "system32", "sys/", "dev/", "var/run", "home/"} {
		if p+len(d) <= len(b) && string(bytes.ToLower(b[p:p+len(d)])) == d {
			return ks, p + len(d), true
		}
	}
	return 0, 0, false
}

// encodedTraversal matches percent-encoded traversal ("%2e%2e%2f",
// "..%2f"), which has no place in ordinary output.
func encodedTraversal(b []byte, ks, ke int) (int, int, bool) { return ks, ke, true }

// shellAfter matches a keyword such as "| sh" that must not continue into a
// longer word ("| shasum", "; shift").
func shellAfter(b []byte, ks, ke int) (int, int, bool) {
	if wordAt(b, ke) {
		return 0, 0, false
	}
	return ks, ke, true
}

// dollarParen matches command substitution "$(cmd" where a command name
// follows; "$(" in prose or "$((1+2))" arithmetic is no finding.
func dollarParen(b []byte, ks, ke int) (int, int, bool) {
	if ke < len(b) && (b[ke] >= 'a' && b[ke] <= 'z') {
		e := ke
		for e < len(b) && (isWord(b[e]) || b[e] == '-' || b[e] == '/') {
			e++
		}
		return ks, e, true
	}
	return 0, 0, false
}

// dollarBrace matches the parameter expansions that shell obfuscation uses
// (${IFS}, ${PATH:0:1}, ${!x}, ${@}, ${x//a/b}); plain template variables
// such as ${HOME} or ${name} are everywhere and are no finding.
// It is compiled on first use (see digCommand).
var dollarBraceRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^\$\{(?:IFS\}|[!#@]|[A-Za-z_][A-Za-z0-9_]*(?::-?\d+|//|##|%%|:\d+:\d+)|\w*\$)`)
})

func dollarBrace(b []byte, ks, ke int) (int, int, bool) {
	m := dollarBraceRe().FindIndex(b[ks:min(len(b), ks+128)])
	if m == nil {
		return 0, 0, false
	}
	return ks, ks + m[1], true
}

// mountCommand matches "mount" and "umount" used as a command (followed by
// an option or a path) and mount( called as a function; "the mount point"
// and "amount" are no finding.
func mountCommand(b []byte, ks, ke int) (int, int, bool) {
	if wordBefore(b, ks) {
		return 0, 0, false
	}
	if ke < len(b) && b[ke] == '(' {
		if manPage(b, ks, ke+1) {
			return 0, 0, false
		}
		return ks, ke + 1, true
	}
	p := ke
	if p >= len(b) || (b[p] != ' ' && b[p] != '\t') {
		return 0, 0, false
	}
	for p < len(b) && (b[p] == ' ' || b[p] == '\t') {
		p++
	}
	if p < len(b) && (b[p] == '-' || b[p] == '/') {
		return ks, ke, true
	}
	return 0, 0, false
}

// codeRules are the original's 26 groups, in its order, fixed: no pattern
// is dead (the capitalised ones match with their case), and each has the
// context rule its comment gives.
var codeRules = sync.OnceValue(func() []*rule {
	return []*rule{
		codeRule("shell-exec", "command_injection", Critical, "Shell exec detected",
			[]string{"exec(", "execSync(", "child_process"}, execCall),
		codeRule("process-spawn", "command_injection", Critical, "Process spawn detected",
			[]string{"spawn(", "spawnSync("}, word),
		codeRule("eval-execution", "command_injection", Critical, "Eval execution detected",
			[]string{"eval(", "Function("}, func(b []byte, ks, ke int) (int, int, bool) {
				// Function( counts only with its capital: "function(" is every
				// JavaScript callback, while "new Function(" builds code from a string.
				if ke-ks == len("Function(") && b[ks] != 'F' {
					return 0, 0, false
				}
				return word(b, ks, ke)
			}),
		codeRule("shell-invocation", "command_injection", High, "Shell invocation detected",
			[]string{"/bin/sh", "/bin/bash", "/bin/zsh", "cmd.exe", "powershell"}, word),
		codeRule("shell-metacharacters", "command_injection", High, "Shell metacharacters detected",
			[]string{"$(", "${", "| sh", "| bash", "; sh", "; bash", "`id", "`whoami", "`uname", "`curl ", "`wget ", "`cat /"},
			func(b []byte, ks, ke int) (int, int, bool) {
				switch b[ks] {
				case '$':
					if b[ks+1] == '(' {
						return dollarParen(b, ks, ke)
					}
					return dollarBrace(b, ks, ke)
				case '`':
					return word(b, ks+1, ke)
				}
				return shellAfter(b, ks, ke)
			}),
		codeRule("pipe-to-shell", "command_injection", Critical, "Pipe to shell detected",
			[]string{"curl", "wget"}, regexpAt(`^(?i:curl|wget)\s[^|\n]{0,300}\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b`, true)),
		codeRule("http-request", "data_exfiltration", Medium, "HTTP request detected",
			[]string{"fetch(", "axios.", "http.request(", "https.request("}, word),
		codeRule("dns-exfiltration", "data_exfiltration", High, "DNS exfil detected",
			[]string{"dns.resolve", "dns.lookup", "nslookup", "dig "},
			func(b []byte, ks, ke int) (int, int, bool) {
				if ke-ks == 4 { // "dig ": only as a command with a name or an option.
					return digCommand()(b, ks, ke)
				}
				return word(b, ks, ke)
			}),
		codeRule("reverse-shell", "data_exfiltration", Critical, "Reverse shell detected",
			[]string{"mkfifo ", "/dev/tcp/", "/dev/udp/", "nc -e", "ncat -e", "socat exec:", "bash -i >&"},
			func(b []byte, ks, ke int) (int, int, bool) {
				if b[ke-1] == ' ' { // mkfifo as a command, not the syscall wrapper mkfifo(
					return command(b, ks, ke)
				}
				return word(b, ks, ke)
			}),
		codeRule("network-tools", "data_exfiltration", High, "Network tools detected",
			[]string{"nc ", "ncat ", "socat ", "telnet ", "nmap "}, netCommand),
		codeRule("sudo-su", "privilege_escalation", Critical, "Sudo/su detected",
			[]string{"sudo ", "su -", "su root"}, func(b []byte, ks, ke int) (int, int, bool) {
				switch ke - ks {
				case len("sudo "):
					return command(b, ks, ke)
				case len("su root"):
					return word(b, ks, ke)
				}
				// "su -", "su -c" and "su -l" switch user; "Su -Fr" and "x su -y"
				// with other letters are something else.
				if wordBefore(b, ks) {
					return 0, 0, false
				}
				if wordAt(b, ke) && !((b[ke] == 'c' || b[ke] == 'l') && !wordAt(b, ke+1)) {
					return 0, 0, false
				}
				return ks, ke, true
			}),
		codeRule("permission-change", "privilege_escalation", High, "Permission change detected",
			[]string{"chmod ", "chown ", "chgrp ", "setuid", "setgid"}, func(b []byte, ks, ke int) (int, int, bool) {
				if b[ke-1] == ' ' {
					return command(b, ks, ke)
				}
				return word(b, ks, ke)
			}),
		codeRule("kernel-module", "privilege_escalation", Critical, "Kernel module detected",
			[]string{"insmod ", "modprobe ", "rmmod "}, command),
		withGate(codeRule("mount-operation", "privilege_escalation", Critical, "Mount operation detected",
			[]string{"mount", "umount"}, mountCommand), true, func(c byte) bool { return c == '(' || c == ' ' || c == '\t' }),
		codeRule("capability-manipulation", "privilege_escalation", Critical, "Capability manipulation detected",
			[]string{"setcap ", "getcap ", "capsh "}, command),
		codeRule("package-install", "supply_chain", High, "Package install detected",
			[]string{"npm install", "pip install", "pip3 install", "gem install", "cargo install", "go install",
				"apt install", "apt-get install", "yum install", "dnf install", "pacman -S"},
			func(b []byte, ks, ke int) (int, int, bool) {
				// pacman -S with its capital installs; -s searches.
				if b[ks] == 'p' && b[ks+1] == 'a' && b[ke-1] != 'S' {
					return 0, 0, false
				}
				return word(b, ks, ke)
			}),
		codeRule("remote-script-execution", "supply_chain", Critical, "Remote script execution detected",
			[]string{"curl", "wget", "<(curl", "<(wget", "$(curl", "$(wget"},
			func(b []byte, ks, ke int) (int, int, bool) {
				if b[ks] == '<' || b[ks] == '$' {
					return ks, ke, true
				}
				return pipeToInterpreter()(b, ks, ke)
			}),
		codeRule("dynamic-import", "supply_chain", Medium, "Dynamic require/import detected",
			[]string{"require(", "import(", "__import__("}, word),
		codeRule("base64-decode", "obfuscation", Medium, "Base64 decode detected",
			[]string{"atob(", "base64 -d", "base64 --decode", "b64decode"}, word),
		codeRule("unicode-escape", "obfuscation", Medium, "Unicode escape detected",
			[]string{`\u`, "String.fromCharCode"}, func(b []byte, ks, ke int) (int, int, bool) {
				if b[ks] == 'S' || b[ks] == 's' {
					if string(b[ks:ke]) != "String.fromCharCode" {
						return 0, 0, false
					}
					return ks, ke, true
				}
				if ks > 0 && b[ks-1] == '\\' {
					return 0, 0, false // an escaped backslash, or inside a run already seen
				}
				return escapeRun(`\u`, 4, 3)(b, ks, ke)
			}),
		codeRule("hex-encoding", "obfuscation", Low, "Hex encoding detected",
			[]string{`\x`, "fromhex(", "hex.decode"}, func(b []byte, ks, ke int) (int, int, bool) {
				if b[ks] == '\\' {
					if ks > 0 && b[ks-1] == '\\' {
						return 0, 0, false
					}
					return escapeRun(`\x`, 2, 4)(b, ks, ke)
				}
				return word(b, ks, ke)
			}),
		codeRule("sensitive-path-access", "filesystem_abuse", Critical, "Sensitive path access detected",
			[]string{"/etc/shadow", "/etc/passwd", "/etc/sudoers", "/.ssh/", "/.gnupg/", "/.aws/", "/.kube/",
				"/dev/mem", "/dev/kmem", "/proc/kcore"}, func(b []byte, ks, ke int) (int, int, bool) {
				if isWord(b[ke-1]) && wordAt(b, ke) {
					return 0, 0, false // "/dev/memory", "/etc/passwdqc.conf"
				}
				return ks, ke, true
			}),
		codeRule("path-traversal", "filesystem_abuse", High, "Path traversal detected",
			[]string{"../", `..\`, "%2e%2e%2f", "%2e%2e/", "..%2f", "%2e%2e%5c"}, func(b []byte, ks, ke int) (int, int, bool) {
				if b[ks+2] == '/' || b[ks+2] == '\\' {
					return traversal(b, ks, ke)
				}
				return encodedTraversal(b, ks, ke)
			}),
		codeRule("destructive-operation", "filesystem_abuse", Critical, "Destructive operation detected",
			[]string{"rm -rf", "rm -fr", "rm -r -f", "dd if=", "mkfs.", "shred "}, func(b []byte, ks, ke int) (int, int, bool) {
				if b[ke-1] == ' ' {
					return command(b, ks, ke)
				}
				if wordBefore(b, ks) {
					return 0, 0, false
				}
				return ks, ke, true
			}),
		codeRule("weak-hash", "crypto_misuse", Medium, "Weak hash detected",
			[]string{"md5(", "sha1("}, word),
		codeRule("hardcoded-key", "crypto_misuse", High, "Hardcoded key detected",
			[]string{"AES_KEY", "ENCRYPTION_KEY", "SECRET_KEY"},
			regexpAt(`^(?i:aes_key|encryption_key|secret_key)[ \t]*[:=][ \t]*["']?[A-Za-z0-9+/=_\-]{8,}`, false)),
	}
})
