// Package scan finds secrets, dangerous code and personal data in the
// output of sandboxed commands, and decides through a gate whether that
// output may leave the sandbox (Pass, Warn with redaction, Quarantine or
// Block).
//
// Scanners are pure functions over []byte: no I/O, no context, safe for
// concurrent use. Secrets, Code and Data return the three scanners; All
// returns one scanner that runs the three behind a single prefilter pass and
// is what the gate uses by default. Stream runs any scanner over an
// io.Reader in bounded memory, and StreamBytes over bytes in place (a
// mapped file, see package mapfile).
//
// # Rules
//
// Secrets: the original's patterns (AWS access and secret keys, GCP, GitHub,
// Stripe, Slack, generic API key, bearer, JWT, RSA/EC/OpenSSH/PKCS#8 private
// keys, password assignments, database URLs) plus GitHub fine-grained and
// GitLab tokens, Slack webhooks, OpenAI, Anthropic, Hugging Face, npm, PyPI,
// SendGrid, Twilio, Azure storage keys and client secrets, Google OAuth
// client secrets, DigitalOcean, DSA/encrypted/PGP private keys, a generic
// secret/token assignment, and a Shannon-entropy detector (thresholds in
// entropy.go). Values that are placeholders (${VAR}, <your-key>, xxxx,
// "EXAMPLE", ascending fillers) are not secrets. The original's email and
// SSN patterns are personal data and live in the data scanner.
//
// Code: the original's 26 groups, none dead, each with a context rule
// (word boundaries, an argument after a command name, "../" only when it
// climbs three levels or reaches a system directory, "mount" only as a
// command, "${" only in the expansions shell obfuscation uses).
//
// Data: payment cards of seven networks only when Luhn-valid, IBANs only
// when the mod-97 check holds, US SSNs outside areas 000/666/9xx and groups
// 00/serials 0000, emails outside reserved example domains, North American
// and international phone numbers, IPv4, IPv6, MAC addresses, and the
// HIPAA/GDPR/PCI/SOC2 markers.
//
// Each rule's true and false positives are checked by TestRules; the
// true positives are generated at run time (package scancorpus) so that no
// credential-shaped string is committed.
//
// # Findings
//
// A Finding names its scanner, rule, category and severity, gives the byte
// span [Start, End) of the match and evidence that keeps at most four
// leading and four trailing bytes. Findings are ordered by start; a finding
// inside another of the same scanner is dropped (one secret, one finding),
// and a high-entropy finding is dropped where a pattern matched. Unlike the
// original, every match is reported, not only the first of each pattern.
package scan
