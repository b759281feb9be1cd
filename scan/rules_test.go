package scan

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kavach-go/kavach/scan/scancorpus"
)

// falsePositives are, per rule, texts that look like the rule's target but
// are not, gitleaks-style: the rule must not report them. The true
// positives are generated at run time by scancorpus (so that no string that
// looks like a live credential is committed).
var falsePositives = map[string][]string{
	"aws-access-key-id":            {"AKIA" + "IOSFODNN7EXAMPLE", "XAKIA" + "Z2QXW7RPLM4NB5VCQ", "AKIA" + "XXXXXXXXXXXXXXXX", "akia" + "z2qxw7rplm4nb5vc"},
	"aws-secret-access-key":        {"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY", "aws secret rotation is scheduled", "aws_secret_access_key = ${AWS_SECRET}"},
	"gcp-api-key":                  {"AIza" + "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "AIza" + "short"},
	"github-token":                 {"ghp_" + "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "ghp_" + "short", "my_ghp_value"},
	"github-fine-grained-pat":      {"github_pat_" + "<your-token>", "github_pat_" + "short_value"},
	"gitlab-token":                 {"glpat-" + "xxxxxxxxxxxxxxxxxxxx", "glpat-" + "short"},
	"stripe-secret-key":            {"sk_live_" + "xxxxxxxxxxxxxxxxxxxxxxxx", "sk_test_" + "short", "sk_live_" + "YOUR_SECRET_KEY_GOES_HERE"},
	"slack-token":                  {"xoxb-" + "xxxxxxxxxx-xxxxxxx", "xoxb-" + "short"},
	"slack-webhook-url":            {"https://hooks.slack.com/services/" + "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"},
	"generic-api-key":              {`api_key = "${API_KEY}"`, `api_key: "<your-api-key>"`, "the apikey header is required", `apiKey = "short"`, `api_key = "abcdefghijklmnopqrst"`},
	"bearer-token":                 {"Authorization: Bearer <token>", "Authorization: Bearer ${TOKEN}", "bearer authentication_is_required"},
	"jwt":                          {"eyJ" + "hbGciOiJIUzI1NiJ9", "eyJ" + "hbGci.eyJ" + "zdWIi.abc"},
	"private-key-rsa":              {"-----BEGIN RSA PUBLIC KEY-----", "BEGIN RSA PRIVATE KEY"},
	"private-key-ec":               {"-----BEGIN EC PARAMETERS-----"},
	"private-key-openssh":          {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 user@host"},
	"private-key-pkcs8":            {"-----BEGIN PUBLIC KEY-----", "-----BEGIN CERTIFICATE-----"},
	"private-key-pkcs8-encrypted":  {"ENCRYPTED PRIVATE KEY files are supported"},
	"private-key-dsa":              {"-----BEGIN DSA PARAMETERS-----"},
	"private-key-pgp":              {"-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----BEGIN PGP SIGNATURE-----"},
	"password-assignment":          {`password = "xxxxxxxxxxxx"`, `password: "********"`, "Please enter your password.", `password = "short"`, `password = "${DB_PASSWORD}"`, `pwd = "<password>"`, `encodeUserPassword:   "encodeUserPassword"`},
	"password-assignment-unquoted": {"password: required", "password=getPassword()", "passwd: /etc/passwd", "password: ********", "PASSWORD=$DB_PASSWORD", "password = 2026-02-23T23:59:14Z end", "is password = warning: compiling"},
	"database-connection-string":   {"postgres://user:password@localhost/db", "postgres://${DB_USER}:${DB_PASS}@db/app", "postgres://localhost:5432/app", "redis://cache:6379"},
	"openai-api-key":               {"sk-" + "proj-short", "disk-" + "abcdefghijklmnopqrstT3Blbk" + "FJabcdefghijklmnopqrst", "sk-" + "ant-api03-short"},
	"anthropic-api-key":            {"sk-" + "ant-api03-<your-key>", "sk-" + "ant-" + "short"},
	"huggingface-token":            {"hf_" + "hub_download", "hf_" + "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
	"npm-token":                    {"npm_" + "config_registry", "npm_" + "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
	"pypi-token":                   {"pypi-" + "AgEIcHlwaS5vcmc" + "short"},
	"sendgrid-api-key":             {"SG." + "short.value", "msg.send()"},
	"twilio-api-key":               {"SK" + "ILLED worker", "task 0123456789abcdef0123456789abcdef", "SK" + "00000000000000000000000000000000"},
	"azure-storage-key":            {"AccountKey=" + "<key>", "AccountKey=" + "short=="},
	"azure-client-secret":          {"x1Q~ short", "usage: a1bQ~"},
	"google-oauth-client-secret":   {"GOCSPX-" + "<secret>", "GOCSPX-" + "short"},
	"digitalocean-token":           {"dop_v1_" + "short", "dop_v1_" + "0000000000000000000000000000000000000000000000000000000000000000"},
	"generic-secret":               {"token expired, please log in again", "secret: required_field_value", `token = "${TOKEN}"`, "tokenizer = bert-base-uncased-model", `secret = "aaaaaaaaaaaaaaaaaaaaaaaa"`, "earlySecret = tls13.NewEarlySecret(hs.suite)", "token = auth2.DefaultTokenSource"},
	"high-entropy":                 {"4b825dc642cb6eb9a060e54bf8d69288fbee4904", "3f2b8c1e-9a4d-4e7b-8c2a-1d5e6f7a8b9c", "ThisIsAVeryLongCamelCaseIdentifierName", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "abcdefghijklmnopqrstuvwxyz0123456789ABCD"},

	"shell-exec":              {"regex.exec(line)", "re.exec(s)", "the executor( runs", "cursor.exec(sql)", "see exec(3p)"},
	"process-spawn":           {"respawn(worker)", "spawned a worker"},
	"eval-execution":          {"retrieval(docs)", "items.forEach(function(x) { return x })", "evaluation(x)"},
	"shell-invocation":        {"/bin/shred is a tool", "use the bash shell", "/bin/bashful"},
	"shell-metacharacters":    {"HOME=${HOME}/bin", "cost $(5)", "sha256sum x | shasum", "x; shift", "use `go test` to run", "$((1+2))"},
	"pipe-to-shell":           {"curl https://x.invalid -o file", "curl -s x | jq .", "wget x | shasum"},
	"http-request":            {"prefetch(url)", "fetched 3 rows"},
	"dns-exfiltration":        {"let us dig into the logs", "indig x.com", "dns resolver ok"},
	"reverse-shell":           {"mkfifos", "rsync -e ssh host:/x /y", "mkfifo_test", "func Mkfifo(path string)"},
	"network-tools":           {"sync done", "nc", "telnet is insecure.", "nmap results below"},
	"sudo-su":                 {"pseudo code", "Su -Fr", "sudo.", "su rooted"},
	"permission-change":       {"chmod.", "setuidgid", "use chmod\n"},
	"kernel-module":           {"insmod.", "modprobe\n"},
	"mount-operation":         {"see mount(8) and umount(2)", "the mount point is ready", "a large amount of memory", "mounted /data", "remount later"},
	"capability-manipulation": {"setcap.", "capsh\n"},
	"package-install":         {"npm test", "pacman -Ss nmap", "pip installation guide", "bigo install"},
	"remote-script-execution": {"curl -s x | jq .", "<(cat file)"},
	"dynamic-import":          {"required(x)", "important(x)", "reimport(x)"},
	"base64-decode":           {"base64 -decode", "atobx(", "base64 --decoder"},
	"unicode-escape":          {`"caf\u00e9"`, "string.fromcharcode(1)", `\\u0041\\u0042\\u0043`},
	"hex-encoding":            {`"\x1b[0m"`, `"\x1b\x1b\x1b"`, "hex.decoder"},
	"sensitive-path-access":   {"/etc/passwdqc.conf", "/dev/memory", "/etc/shadowsocks"},
	"path-traversal":          {"compiling ../lib/util.go", "../../x.go", "see ...hmm../"},
	"destructive-operation":   {"form -rf", "add if=", "xmkfs.ext4", "shred."},
	"weak-hash":               {"md5sum ok", "hmacmd5(x)"},
	"hardcoded-key":           {"AES_KEY = ''", "SECRET_KEY is required", "aes_key = short"},

	"credit-card-visa":       {"4111 1111 1111 1112", "41111111111111115", "order 4111111111111111234", "v4111111111111111", "x = -4529369641467339140", "4602025990114250980,"},
	"credit-card-mastercard": {"5500-0000-0000-0005", "5600 0000 0000 0004"},
	"credit-card-amex":       {"3782 822463 10006", "3782822463100051"},
	"credit-card-discover":   {"6011 1111 1111 1118"},
	"credit-card-jcb":        {"3530111333300001"},
	"credit-card-diners":     {"30569309025905"},
	"credit-card-unionpay":   {"6200000000000004"},
	"iban":                   {"DE89 3704 0044 0532 0130 01", "GB82WEST1234569876543", "XDE89370400440532013000", "DE8937040044053201300"},
	"us-ssn":                 {"000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567", "123-45-0000", "1123-45-6789", "123-45-67890"},
	"email-address":          {"user@localhost", "admin@example.com", "a@b.c", "@handle", "user@host.123"},
	"phone-number":           {"555-1234", "123-456-7890", "2026-11-26", "+0 123 456 789", "call 1234567890"},
	"ipv4-address":           {"256.1.1.1", "1.2.3", "1.3.6.1.4.1.311", "v1.2.3.4", "01.02.03.04"},
	"ipv6-address":           {"std::vector", "12:30:45", "a::b::c", "Foo :: bar", "A::D is suitable"},
	"mac-address":            {"00:1a:2b:3c:4d", "00:1a:2b:3c:4d:5e:6f", "0g:1a:2b:3c:4d:5e"},
	"hipaa-identifier":       {"patients identified", "phish", "Phi is a letter"},
	"gdpr-personal-data":     {"data subjects"[:4] + " subjectively", "right to erase"},
	"pci-cardholder-data":    {"cvv2x", "tracked data"},
	"soc2-audit-artifact":    {"soc 20", "system descriptions"},
}

// allRuleIDs lists every rule id the scanners can report.
func allRuleIDs() []string {
	var ids []string
	for _, r := range slices.Concat(secretRules(), codeRules(), dataRules()) {
		ids = append(ids, r.id)
	}
	ids = append(ids, "high-entropy")
	for id := range cardNames {
		ids = append(ids, id)
	}
	ids = append(ids, "iban", "us-ssn", "email-address", "phone-number", "ipv4-address", "ipv6-address", "mac-address")
	slices.Sort(ids)
	return slices.Compact(ids)
}

// truePositives generates count positives per rule.
func truePositives(seed uint64, count int) map[string][]string {
	r := rand.New(rand.NewPCG(seed, 1))
	tp := map[string][]string{}
	for range count {
		for _, g := range slices.Concat(scancorpus.Secrets, scancorpus.Data) {
			tp[g.Rule] = append(tp[g.Rule], g.Make(r))
		}
	}
	for _, c := range scancorpus.Code {
		tp[c.Rule] = append(tp[c.Rule], c.Text)
	}
	return tp
}

// truePositiveList flattens truePositives in rule order, so that tests
// built from it are the same on every run.
func truePositiveList(seed uint64, count int) []string {
	tp := truePositives(seed, count)
	var out []string
	for _, id := range allRuleIDs() {
		out = append(out, tp[id]...)
	}
	return out
}

func hasRule(fs []Finding, id string) bool {
	for _, f := range fs {
		if f.RuleID == id {
			return true
		}
	}
	return false
}

// TestRules checks every rule against its own true and false positives.
func TestRules(t *testing.T) {
	tp := truePositives(1, 3)
	for _, id := range allRuleIDs() {
		t.Run(id, func(t *testing.T) {
			if len(tp[id]) == 0 {
				t.Fatalf("rule %s has no true positive", id)
			}
			if len(falsePositives[id]) == 0 {
				t.Fatalf("rule %s has no false positive", id)
			}
			for _, s := range tp[id] {
				in := []byte("> " + s + " <\n")
				fs := All().Scan(in)
				if !hasRule(fs, id) {
					t.Errorf("true positive not found: %q; got %v", s, fs)
				}
			}
			for _, s := range falsePositives[id] {
				if fs := All().Scan([]byte(s)); hasRule(fs, id) {
					t.Errorf("false positive reported: %q: %v", s, fs)
				}
			}
		})
	}
	for id := range falsePositives {
		if !slices.Contains(allRuleIDs(), id) {
			t.Errorf("false positives for unknown rule %s", id)
		}
	}
}
