package scan

import (
	"bytes"
	"regexp"
	"sync"
)

// secret builds a secrets rule whose regexp starts at the keyword.
//
// The regexp is compiled when the rule's keyword is first seen, not when
// the rule is built: compiling all of them is most of the cost of
// building the scanners, which every kavach exec does (it redacts its
// command line) while most inputs contain none of the keywords. The
// tests' true positives reach every rule, so a bad regexp still fails
// them.
func secret(id, category string, sev Severity, message string, keywords []string, re string, o reOpts) *rule {
	match := sync.OnceValue(func() func(b []byte, ks, ke int) (int, int, bool) {
		return reMatch(regexp.MustCompile(re), o)
	})
	return &rule{
		scanner: "secrets", id: id, category: category, severity: sev, message: message,
		keywords: keywords, match: func(b []byte, ks, ke int) (int, int, bool) { return match()(b, ks, ke) },
		assign: o.assignNext, // reMatch turns down the keyword first thing
	}
}

// token is the usual shape of a provider token rule: a fixed prefix, a
// random part that must look random (group 1), and boundaries on both
// sides.
func token(id, category string, sev Severity, message string, keywords []string, re string) *rule {
	return secret(id, category, sev, message, keywords, re,
		reOpts{boundBefore: true, boundAfter: true, value: 1, check: randomish})
}

// privateKey matches a PEM (or PGP armour) private key header and, when
// the footer follows within 64 KiB, the whole block.
func privateKey(id, message, label string) *rule {
	begin := "-----BEGIN " + label + "-----"
	end := []byte("-----END " + label + "-----")
	return &rule{
		scanner: "secrets", id: id, category: "private_key", severity: Critical, message: message,
		keywords: []string{begin},
		match: func(b []byte, ks, ke int) (int, int, bool) {
			if string(b[ks:ke]) != begin {
				return 0, 0, false
			}
			body := b[ke:min(len(b), ke+64<<10)]
			if i := bytes.Index(body, end); i >= 0 {
				return ks, ke + i + len(end), true
			}
			return ks, ke, true
		},
	}
}

// hexPrefixed returns prefix followed by every pair of hex digits: the
// keywords of a rule whose prefix is too short to filter on alone.
func hexPrefixed(prefix string) []string {
	const hex = "0123456789abcdef"
	var ks []string
	for _, a := range hex {
		for _, b := range hex {
			ks = append(ks, prefix+string(a)+string(b))
		}
	}
	return ks
}

// secretValue accepts an assigned value that is a credential rather than a
// placeholder, a path or code: no template syntax, no leading path
// character, no call parentheses.
func secretValue(v []byte) bool {
	if isPlaceholder(v) || bytes.ContainsAny(v, "()") {
		return false
	}
	return v[0] != '/' && v[0] != '.' && v[0] != '~'
}

// unquotedPassword additionally asks an unquoted value for something that
// is not a letter, so that prose such as "password: required" is no
// finding.
// It also turns down a label ("warning:") and a timestamp
// ("2026-02-23T23:59:14Z"), which program output puts after "password ="
// more often than a password, and asks for at least one letter.
func unquotedPassword(v []byte) bool {
	if !secretValue(v) || v[len(v)-1] == ':' || isoDate().Match(v) {
		return false
	}
	var letter, other bool
	for _, c := range v {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			letter = true
		} else {
			other = true
		}
	}
	return letter && other
}

// isoDate is compiled on first use (see digCommand).
var isoDate = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\d{4}-\d{2}-\d{2}`) })

// genericValue accepts a value of a generic key or token assignment when it
// has letters and digits and at least 3 bits of entropy per byte, the
// gitleaks-style threshold that separates keys from words and versions.
func genericValue(v []byte) bool {
	return secretValue(v) && mixed(v) && shannon(v) >= 3
}

// secretRules are the secrets scanner's rules. The first sixteen carry the
// original's patterns (its email and SSN rules are personal data and live
// in the data scanner); the others add the providers an AI agent meets.
var secretRules = sync.OnceValue(func() []*rule {
	return []*rule{
		token("aws-access-key-id", "cloud_credential", Critical, "AWS Access Key detected",
			[]string{"AKIA", "ASIA", "ABIA", "ACCA"}, `^(?:AKIA|ASIA|ABIA|ACCA)([0-9A-Z]{16})`),
		secret("aws-secret-access-key", "cloud_credential", Critical, "AWS Secret Key detected",
			[]string{"aws"}, `^(?i:aws)[\w.\-"' ]{0,20}?(?i:secret)[\w.\-"' ]{0,20}?[:=]\s*["']?([0-9a-zA-Z/+]{40})(?:["'\s,;}]|$)`,
			reOpts{boundBefore: true, assign: true, value: 1, check: func(v []byte) bool { return randomish(v) && shannon(v) >= 3.5 }}),
		token("gcp-api-key", "cloud_credential", High, "GCP API Key detected",
			[]string{"AIza"}, `^AIza([0-9A-Za-z_\-]{35})`),
		token("github-token", "api_token", Critical, "GitHub Token detected",
			[]string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}, `^gh[pousr]_([A-Za-z0-9]{36,251})`),
		token("github-fine-grained-pat", "api_token", Critical, "GitHub fine-grained token detected",
			[]string{"github_pat_"}, `^github_pat_([A-Za-z0-9_]{60,250})`),
		token("gitlab-token", "api_token", Critical, "GitLab token detected",
			[]string{"glpat-", "gldt-", "glrt-", "glptt-"}, `^(?:glpat|gldt|glrt|glptt)-([A-Za-z0-9_\-]{20,64})`),
		token("stripe-secret-key", "api_token", Critical, "Stripe Secret Key detected",
			[]string{"sk_live_", "sk_test_", "rk_live_", "rk_test_"}, `^[sr]k_(?:live|test)_([0-9a-zA-Z]{24,247})`),
		token("slack-token", "api_token", High, "Slack Token detected",
			[]string{"xoxb-", "xoxp-", "xoxa-", "xoxs-", "xoxr-", "xoxe-"}, `^xox[bpasre]-([0-9a-zA-Z\-]{10,250})`),
		token("slack-webhook-url", "api_token", High, "Slack webhook URL detected",
			[]string{"hooks.slack.com/services/"}, `^hooks\.slack\.com/services/(T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/[A-Za-z0-9]{20,32})`),
		secret("generic-api-key", "api_key", Medium, "Generic API Key detected",
			[]string{"api_key", "api-key", "apikey"}, `^(?i:api[_-]?key)[\w\-]{0,20}["']?\s*[:=]\s*["']?([A-Za-z0-9_\-./+]{16,128})`,
			reOpts{boundAfter: true, assignNext: true, notCall: true, value: 1, check: genericValue}),
		secret("bearer-token", "auth_token", High, "Bearer Token detected",
			[]string{"bearer"}, `^(?i:bearer)[ \t]+([a-zA-Z0-9\-._~+/]{20,}=*)`,
			reOpts{boundBefore: true, value: 1, check: func(v []byte) bool { return secretValue(v) && mixed(v) }}),
		secret("jwt", "auth_token", High, "JWT detected",
			[]string{"eyJ"}, `^(eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,})`,
			reOpts{boundBefore: true, window: 8192}),
		privateKey("private-key-rsa", "RSA Private Key detected", "RSA PRIVATE KEY"),
		privateKey("private-key-ec", "EC Private Key detected", "EC PRIVATE KEY"),
		privateKey("private-key-openssh", "OpenSSH Private Key detected", "OPENSSH PRIVATE KEY"),
		privateKey("private-key-pkcs8", "Generic Private Key detected", "PRIVATE KEY"),
		privateKey("private-key-pkcs8-encrypted", "Encrypted Private Key detected", "ENCRYPTED PRIVATE KEY"),
		privateKey("private-key-dsa", "DSA Private Key detected", "DSA PRIVATE KEY"),
		privateKey("private-key-pgp", "PGP Private Key detected", "PGP PRIVATE KEY BLOCK"),
		secret("password-assignment", "credential", High, "Password Assignment detected",
			[]string{"password", "passwd", "pwd"},
			`^(?i:password|passwd|pwd)[\w\-]{0,20}["']?[ \t]*[:=][ \t]*(?:"([^"\r\n]{8,200})"|'([^'\r\n]{8,200})')`,
			reOpts{assignNext: true, value: 1, check: func(v []byte) bool {
				// A value that itself says "password" is a name or a prompt
				// ("encodeUserPassword", "your_password_here").
				lv := bytes.ToLower(v)
				return secretValue(v) && !bytes.Contains(lv, []byte("password")) && !bytes.Contains(lv, []byte("passwd"))
			}}),
		secret("password-assignment-unquoted", "credential", High, "Password Assignment detected",
			[]string{"password", "passwd"},
			`^(?i:password|passwd)[\w\-]{0,20}[ \t]*[:=][ \t]*([^\s"'\x60,;]{8,200})`,
			reOpts{assignNext: true, value: 1, check: unquotedPassword}),
		secret("database-connection-string", "connection_string", Critical, "Database Connection String detected",
			[]string{"postgres://", "postgresql://", "mysql://", "mariadb://", "mongodb://", "mongodb+srv://",
				"redis://", "rediss://", "amqp://", "amqps://", "sqlserver://", "mssql://"},
			`^[a-zA-Z+]+://[^:@/\s]{1,128}:([^@/\s]{1,256})@[^\s"'\x60<>]{2,}`,
			reOpts{boundBefore: true, value: 1, check: func(v []byte) bool {
				lv := bytes.ToLower(v)
				return !isPlaceholder(v) && !bytes.Equal(lv, []byte("password")) && !bytes.Equal(lv, []byte("pass"))
			}}),
		token("openai-api-key", "api_token", Critical, "OpenAI API Key detected",
			[]string{"sk-"}, `^sk-(?:(?:proj|svcacct|admin)-([A-Za-z0-9_\-]{40,200})|([A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}))`),
		token("anthropic-api-key", "api_token", Critical, "Anthropic API Key detected",
			[]string{"sk-ant-"}, `^sk-ant-(?:api|admin|sid)\d{2}-([A-Za-z0-9_\-]{80,120})`),
		token("huggingface-token", "api_token", High, "Hugging Face token detected",
			[]string{"hf_"}, `^hf_([A-Za-z0-9]{34,40})`),
		token("npm-token", "api_token", Critical, "npm access token detected",
			[]string{"npm_"}, `^npm_([A-Za-z0-9]{36})`),
		token("pypi-token", "api_token", Critical, "PyPI upload token detected",
			[]string{"pypi-AgEIcHlwaS5vcmc"}, `^pypi-AgEIcHlwaS5vcmc([A-Za-z0-9_\-]{50,300})`),
		token("sendgrid-api-key", "api_token", High, "SendGrid API key detected",
			[]string{"SG."}, `^SG\.([A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})`),
		token("twilio-api-key", "api_token", High, "Twilio API key detected",
			hexPrefixed("SK"), `^SK([0-9a-f]{32})`),
		secret("azure-storage-key", "cloud_credential", Critical, "Azure storage account key detected",
			[]string{"AccountKey="}, `^(?i:AccountKey)=([A-Za-z0-9+/]{86}==)`,
			reOpts{value: 1, check: randomish}),
		secret("azure-client-secret", "cloud_credential", Critical, "Azure AD client secret detected",
			[]string{"Q~"}, `^[a-zA-Z0-9_~.]{3}\dQ~([a-zA-Z0-9_~.\-]{31,34})`,
			reOpts{back: 4, boundBefore: true, boundAfter: true, value: 1, check: randomish}),
		token("google-oauth-client-secret", "cloud_credential", High, "Google OAuth client secret detected",
			[]string{"GOCSPX-"}, `^GOCSPX-([A-Za-z0-9_\-]{28})`),
		token("digitalocean-token", "cloud_credential", Critical, "DigitalOcean token detected",
			[]string{"dop_v1_", "doo_v1_", "dor_v1_"}, `^do[por]_v1_([a-f0-9]{64})`),
		secret("generic-secret", "api_key", Medium, "Generic secret assignment detected",
			[]string{"secret", "token", "access_key", "private_key", "client_secret", "auth_key"},
			`^(?i:secret|token|access_key|private_key|client_secret|auth_key)[\w\-]{0,20}["']?[ \t]*[:=][ \t]*["']?([A-Za-z0-9_\-./+=]{16,256})`,
			reOpts{boundAfter: true, assignNext: true, notCall: true, value: 1, check: genericValue}),
	}
})
