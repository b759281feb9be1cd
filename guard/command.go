package guard

import (
	"path"
	"slices"
	"strings"
)

// CheckCommand runs the three pre-exec checks of spec §6 on argv and
// returns every hit, in the order blocklist, sensitive paths, shell
// metacharacters (the original's order). See the package documentation
// for exactly what each check looks at.
func CheckCommand(argv []string, cfg Config) []Violation {
	var out []Violation
	if len(argv) == 0 {
		return nil
	}
	names, scripts := unwrap(argv)
	scripts = append(shellScripts(argv, cfg.shells()), scripts...)
	if !cfg.DisableCommandBlocklist {
		out = append(out, checkBlocklist(names, scripts, cfg.blockedCommands())...)
	}
	if !cfg.DisableSensitivePaths {
		out = append(out, checkSensitivePaths(argv, cfg.sensitivePaths())...)
	}
	if !cfg.DisableShellMetachars {
		out = append(out, checkMetachars(scripts, cfg.shellMetachars())...)
	}
	return out
}

// baseName is what follows the last '/', as the original computes it
// (path.Base would turn "dir/" into "dir").
func baseName(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

func checkBlocklist(names []string, scripts []script, blocked []string) []Violation {
	var out []Violation
	seen := map[string]bool{}
	report := func(name, where string) {
		if !slices.Contains(blocked, name) {
			return
		}
		d := "blocked command: " + name + where
		if seen[d] {
			return
		}
		seen[d] = true
		out = append(out, newViolation(BlockedCommand, name, "%s", d))
	}
	for i, name := range names {
		if i == 0 {
			report(name, "")
		} else {
			report(name, " (run by "+names[i-1]+")")
		}
	}
	for _, s := range scripts {
		for _, name := range scriptCommands(s.text) {
			report(name, " (in "+s.shell+" -c script)")
		}
	}
	return out
}

// wrapper describes a program that runs another program named in its
// arguments, so that the blocklist can see through it.
type wrapper struct {
	valueOpts   string   // short options that take a value
	longValue   []string // long options that take a value
	positional  int      // operands before the command (timeout DURATION)
	assignments bool     // NAME=VALUE words precede the command (env)
	splitOpt    string   // option whose value is itself a command line (env -S)
	shellOpt    string   // option whose value is a script run by sh -c (flock -c, su -c)
}

var wrappers = map[string]wrapper{
	"env":     {valueOpts: "uCS", longValue: []string{"--unset", "--chdir", "--split-string"}, assignments: true, splitOpt: "S"},
	"nice":    {valueOpts: "n", longValue: []string{"--adjustment"}},
	"nohup":   {},
	"setsid":  {},
	"stdbuf":  {valueOpts: "ioe", longValue: []string{"--input", "--output", "--error"}},
	"timeout": {valueOpts: "sk", longValue: []string{"--signal", "--kill-after"}, positional: 1},
	"ionice":  {valueOpts: "cnp", longValue: []string{"--class", "--classdata", "--pid"}},
	"chroot":  {longValue: []string{"--userspec", "--groups"}, positional: 1},
	"taskset": {positional: 1},
	"chrt":    {positional: 1},
	"flock":   {valueOpts: "wEc", longValue: []string{"--timeout", "--conflict-exit-code", "--command"}, positional: 1, shellOpt: "c"},
	"su":      {valueOpts: "cgGsw", longValue: []string{"--command", "--group", "--supp-group", "--shell", "--whitelist-environment"}, positional: 1, shellOpt: "c"},
	"busybox": {},
	"sudo":    {valueOpts: "CDgprtUuh", longValue: []string{"--close-from", "--chdir", "--group", "--prompt", "--role", "--type", "--other-user", "--user", "--host"}},
	"doas":    {valueOpts: "uC"},
	"time":    {valueOpts: "fo", longValue: []string{"--format", "--output"}},
	"xargs":   {valueOpts: "adEILnPs", longValue: []string{"--arg-file", "--delimiter", "--max-lines", "--max-args", "--max-procs", "--max-chars"}},
}

// longOf names the long form of a wrapper's split and shell options.
var longOf = map[string]string{"S": "--split-string", "c": "--command"}

// unwrap returns the basename of argv[0] followed by the basenames of the
// commands its wrappers run ("env nice python3" gives env, nice,
// python3), and the scripts that wrappers hand to a shell (flock -c).
func unwrap(argv []string) (names []string, scripts []script) {
	for len(argv) > 0 {
		name := baseName(argv[0])
		names = append(names, name)
		w, ok := wrappers[name]
		if !ok {
			break
		}
		next, split, text := w.command(argv[1:])
		if split != "" {
			n, s := unwrap(strings.Fields(split))
			names, scripts = append(names, n...), append(scripts, s...)
		}
		if text != "" {
			scripts = append(scripts, script{shell: name, text: text})
		}
		argv = next
	}
	return names, scripts
}

// command skips the wrapper's options and operands in args and returns
// the wrapped argv, the value of a split-string option and the value of a
// shell-script option, if given.
func (w wrapper) command(args []string) (rest []string, split, text string) {
	pos := w.positional
	take := func(opt, value string) {
		switch opt {
		case w.splitOpt, longOf[w.splitOpt]:
			split = value
		case w.shellOpt, longOf[w.shellOpt]:
			text = value
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			i++
			for pos > 0 && i < len(args) {
				pos--
				i++
			}
			return args[min(i, len(args)):], split, text
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a, "=")
			if !slices.Contains(w.longValue, name) {
				continue
			}
			if !hasValue && i+1 < len(args) {
				i++
				value = args[i]
			}
			take(name, value)
		case len(a) > 1 && a[0] == '-':
			for k := 1; k < len(a); k++ {
				if !strings.ContainsRune(w.valueOpts, rune(a[k])) {
					continue
				}
				value := a[k+1:]
				if value == "" && i+1 < len(args) {
					i++
					value = args[i]
				}
				take(a[k:k+1], value)
				break
			}
		case w.assignments && strings.Contains(a, "="):
		case pos > 0:
			pos--
		default:
			return args[i:], split, text
		}
	}
	return nil, split, text
}

// script is the script argument of a shell invoked with -c.
type script struct {
	shell string // basename of the shell
	text  string
}

// shellScripts finds every "SHELL [options] -c SCRIPT" in argv, wherever
// SHELL appears (it may follow env, find -exec, xargs, ssh …).
func shellScripts(argv []string, shells []string) []script {
	var out []script
	for i, a := range argv {
		name := baseName(a)
		if !slices.Contains(shells, name) {
			continue
		}
		if text, ok := scriptArg(argv[i+1:]); ok {
			out = append(out, script{shell: name, text: text})
		}
	}
	return out
}

// scriptArg parses shell options at the start of args and returns the -c
// script. The script is the first operand after an option cluster that
// holds 'c' ("-c", "-ec", "-xc"); "-o NAME", "+o NAME" and "--rcfile FILE"
// take a value; "--command SCRIPT" and "--command=SCRIPT" are fish's long
// form. Without -c the first operand is a script file, whose content a
// command-line check cannot see.
func scriptArg(args []string) (string, bool) {
	c := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--" || a == "-":
			if c && i+1 < len(args) {
				return args[i+1], true
			}
			return "", false
		case a == "--command":
			if i+1 < len(args) {
				return args[i+1], true
			}
			return "", false
		case strings.HasPrefix(a, "--command="):
			return strings.TrimPrefix(a, "--command="), true
		case strings.HasPrefix(a, "--"):
			if a == "--rcfile" || a == "--init-file" || a == "--init-command" {
				i++
			}
		case len(a) > 1 && (a[0] == '-' || a[0] == '+'):
			if a[0] == '-' && strings.ContainsRune(a[1:], 'c') {
				c = true
			}
			if strings.ContainsAny(a[1:], "oO") {
				i++
			}
		default:
			if c {
				return a, true
			}
			return "", false
		}
	}
	return "", false
}

// shellKeywords precede a command in a simple command without being one.
var shellKeywords = map[string]bool{
	"if": true, "then": true, "else": true, "elif": true, "do": true, "while": true,
	"until": true, "!": true, "exec": true, "command": true, "builtin": true, "eval": true,
	"coproc": true,
}

// shellLists start a segment that holds no command name.
var shellLists = map[string]bool{"for": true, "case": true, "select": true, "fi": true, "done": true, "esac": true, "in": true}

var unquoter = strings.NewReplacer(`"`, "", `'`, "", `\`, "")

// scriptCommands returns the command names of a shell script: the first
// word (and what its wrappers run) of every segment between ; & | newline
// ( ) ` { }, after assignments and keywords, with quotes and backslashes
// removed ("p'y'thon3" and "\python3" are python3). It over-reports rather
// than under-reports: a separator inside quotes also starts a segment.
func scriptCommands(text string) []string {
	isSep := func(r rune) bool { return strings.ContainsRune(";&|\n()`{}", r) }
	var names []string
	for _, seg := range strings.FieldsFunc(text, isSep) {
		words := strings.Fields(seg)
		for len(words) > 0 && (shellKeywords[words[0]] || isAssignment(words[0])) {
			words = words[1:]
		}
		if len(words) == 0 || shellLists[words[0]] {
			continue
		}
		for i, w := range words {
			words[i] = unquoter.Replace(w)
		}
		n, _ := unwrap(words)
		names = append(names, n...)
	}
	return names
}

// isAssignment reports whether w is a shell NAME=VALUE word.
func isAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	if !ok || name == "" {
		return false
	}
	for i, r := range name {
		if r != '_' && !('a' <= r && r <= 'z') && !('A' <= r && r <= 'Z') && (i == 0 || !('0' <= r && r <= '9')) {
			return false
		}
	}
	return true
}

func checkSensitivePaths(argv []string, patterns []string) []Violation {
	var out []Violation
	for i, a := range argv {
		lower := strings.ToLower(a)
		variants := []string{lower}
		if strings.Contains(lower, "/") {
			variants = append(variants, path.Clean(lower), path.Clean(unquoter.Replace(lower)))
		}
		for _, p := range patterns {
			if matchPath(variants, p) {
				out = append(out, newViolation(SensitivePath, p, "sensitive path %s in argument %d", p, i))
			}
		}
	}
	return out
}

// matchPath reports whether pattern occurs in one of the variants of an
// argument, not followed by a letter or digit ("/etc/shadow-" and
// "/etc/shadow.bak" match, "/etc/shadowbox" does not), or, for a
// directory pattern ("/root/"), whether a variant ends in the directory
// ("/root").
func matchPath(variants []string, pattern string) bool {
	dir, isDir := strings.CutSuffix(pattern, "/")
	for _, v := range variants {
		if containsWord(v, pattern) || isDir && dir != "" && strings.HasSuffix(v, dir) {
			return true
		}
	}
	return false
}

func checkMetachars(scripts []script, patterns []string) []Violation {
	var out []Violation
	for _, s := range scripts {
		text := normalizeShell(s.text)
		for _, p := range patterns {
			if containsWord(text, normalizeShell(p)) {
				out = append(out, newViolation(ShellInjection, p, "shell metacharacter pattern %q in %s -c script", p, s.shell))
			}
		}
	}
	return out
}

// normalizeShell lower-cases s, drops the blanks after | ; & and folds
// other runs of blanks into one space, so that "|sh", "|  sh" and "| sh"
// read the same.
func normalizeShell(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	var prev byte
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' {
			space = true
			continue
		}
		if space && prev != 0 && prev != '|' && prev != ';' && prev != '&' {
			b.WriteByte(' ')
		}
		space = false
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
		prev = c
	}
	return b.String()
}

// containsWord reports whether pattern occurs in s; a pattern that ends in
// a letter or digit must not be followed by one, so "| sh" does not match
// "| shuf".
func containsWord(s, pattern string) bool {
	if pattern == "" {
		return false
	}
	last := pattern[len(pattern)-1]
	if !isWordByte(last) {
		return strings.Contains(s, pattern)
	}
	for off := 0; ; {
		i := strings.Index(s[off:], pattern)
		if i < 0 {
			return false
		}
		end := off + i + len(pattern)
		if end == len(s) || !isWordByte(s[end]) {
			return true
		}
		off += i + 1
	}
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
