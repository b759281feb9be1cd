package threat

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/kavach-go/kavach/guard"
	"github.com/kavach-go/kavach/scan"
)

// f64 forces run-time float64 arithmetic where a constant expression
// would be exact.
func f64(x float64) float64 { return x }

func finding(category string, sev scan.Severity) scan.Finding {
	return scan.Finding{Scanner: "test", RuleID: category, Category: category, Severity: sev}
}

// TestClassifySpecExamples checks every example of spec §5.
func TestClassifySpecExamples(t *testing.T) {
	tests := []struct {
		name     string
		findings []scan.Finding
		score    float64
		tier     Tier
		esc      Escalation
		stages   []Stage
	}{
		{"no findings", nil, 0, Benign, Tier1Log, []Stage{}},
		{"one low", []scan.Finding{finding("pii", scan.Low)}, 0.15, Benign, Tier1Log, []Stage{Exfiltration}},
		{"one medium", []scan.Finding{finding("obfuscation", scan.Medium)}, 0.35, Suspicious, Tier2Alert, []Stage{Weaponization}},
		{"one high", []scan.Finding{finding("command_injection", scan.High)}, 0.60, LikelyMalicious, Tier3Suspend, []Stage{Exploitation}},
		{"one critical", []scan.Finding{finding("private_key", scan.Critical)}, 0.90, Malicious, Tier4Revoke, []Stage{Exfiltration}},
		{"two low in two stages", []scan.Finding{finding("pii_network", scan.Low), finding("pii", scan.Low)},
			0.39, Suspicious, Tier2Alert, []Stage{Reconnaissance, Exfiltration}},
		// The spec writes 0.65 × 1.5 = 0.975: 0.15 + 0.35 + 0.15 is 0.65
		// in float64, and 0.65 × 1.5 rounds to 0.9750000000000001, in
		// Rust's f64 as in Go's float64.
		{"ipv4 + base64 + email: three stages", []scan.Finding{
			finding("pii_network", scan.Low), finding("obfuscation", scan.Medium), finding("pii", scan.Low)},
			0.9750000000000001, Malicious, Tier4Revoke, []Stage{Reconnaissance, Weaponization, Exfiltration}},
		{"medium + low in one stage is exactly 0.5", []scan.Finding{finding("obfuscation", scan.Medium), finding("obfuscation", scan.Low)},
			0.5, LikelyMalicious, Tier3Suspend, []Stage{Weaponization}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Classify(tt.findings, nil)
			if a.IntentScore != tt.score || a.Classification != tt.tier || a.Escalation != tt.esc {
				t.Errorf("Classify = %v %v %v, want %v %v %v", a.IntentScore, a.Classification, a.Escalation, tt.score, tt.tier, tt.esc)
			}
			if !reflect.DeepEqual(a.KillChainStages, tt.stages) {
				t.Errorf("stages %v, want %v", a.KillChainStages, tt.stages)
			}
			if a.FindingCount != len(tt.findings) || a.ViolationCount != 0 {
				t.Errorf("counts %d %d", a.FindingCount, a.ViolationCount)
			}
		})
	}
	if got := Classify([]scan.Finding{finding("pii_network", scan.Low), finding("obfuscation", scan.Medium), finding("pii", scan.Low)}, nil).IntentScore; math.Abs(got-0.975) > 1e-15 {
		t.Errorf("three-stage example %v is not 0.975", got)
	}
}

func TestStageOf(t *testing.T) {
	want := map[string]Stage{
		"pii_network": Reconnaissance, "obfuscation": Weaponization, "crypto_misuse": Weaponization,
		"supply_chain": Delivery, "command_injection": Exploitation, "privilege_escalation": Exploitation,
		"filesystem_abuse": Installation, "data_exfiltration": CommandAndControl,
		"cloud_credential": Exfiltration, "api_token": Exfiltration, "auth_token": Exfiltration,
		"private_key": Exfiltration, "connection_string": Exfiltration, "credential": Exfiltration,
		"pii": Exfiltration, "pii_financial": Exfiltration,
	}
	for cat, stage := range want {
		if got, ok := StageOf(cat); !ok || got != stage {
			t.Errorf("StageOf(%q) = %v, %v; want %v", cat, got, ok, stage)
		}
	}
	for _, cat := range []string{"api_key", "high_entropy", "compliance_gdpr", "compliance_pci", "", "PII"} {
		if s, ok := StageOf(cat); ok {
			t.Errorf("StageOf(%q) = %v, want no stage", cat, s)
		}
	}
}

func TestClassifyViolations(t *testing.T) {
	v := func(t guard.ViolationType) guard.Violation { return guard.Violation{Type: t} }
	tests := []struct {
		name       string
		findings   []scan.Finding
		violations []guard.Violation
		score      float64
		esc        Escalation
		stages     []Stage
	}{
		{"blocked command alone", nil, []guard.Violation{v(guard.BlockedCommand)}, 0.05, Tier1Log, []Stage{}},
		{"sensitive path", nil, []guard.Violation{v(guard.SensitivePath)}, 0.6, Tier3Suspend, []Stage{Exfiltration}},
		{"curl | sh", nil, []guard.Violation{v(guard.BlockedCommand), v(guard.ShellInjection)}, f64(0.05) + f64(0.6), Tier3Suspend, []Stage{Exploitation}},
		{"time anomaly", nil, []guard.Violation{v(guard.TimeAnomaly)}, 0.15, Tier1Log, []Stage{}},
		{"integrity", nil, []guard.Violation{v(guard.Integrity)}, 0.9, Tier4Revoke, []Stage{Installation}},
		{"fork bomb and a low finding in another stage", []scan.Finding{finding("pii_network", scan.Low)},
			[]guard.Violation{v(guard.ForkBomb)}, f64(0.15) + f64(0.6), Tier4Revoke, []Stage{Reconnaissance, Exploitation}},
		{"caller-set severity is ignored", nil, []guard.Violation{{Type: guard.SensitivePath, Severity: scan.Info}}, 0.6, Tier3Suspend, []Stage{Exfiltration}},
		{"unknown type weighs as info", nil, []guard.Violation{v("made_up")}, 0.05, Tier1Log, []Stage{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Classify(tt.findings, tt.violations)
			if len(a.KillChainStages) == 2 {
				tt.score *= f64(1.3)
			}
			if a.IntentScore != math.Min(1, tt.score) || a.Escalation != tt.esc || !reflect.DeepEqual(a.KillChainStages, tt.stages) {
				t.Errorf("Classify = %+v, want score %v %v %v", a, tt.score, tt.esc, tt.stages)
			}
			if a.ViolationCount != len(tt.violations) {
				t.Errorf("violation count %d", a.ViolationCount)
			}
		})
	}
}

// referenceClassify is the original's classify written from the spec
// text, independently of Classify.
func referenceClassify(findings []scan.Finding) (float64, int) {
	if len(findings) == 0 {
		return 0, 0
	}
	weights := map[scan.Severity]float64{scan.Info: 0.05, scan.Low: 0.15, scan.Medium: 0.35, scan.High: 0.60, scan.Critical: 0.90}
	var sum float64
	var stages []Stage
	for _, f := range findings {
		sum += weights[f.Severity]
		if s, ok := StageOf(f.Category); ok && !slices.Contains(stages, s) {
			stages = append(stages, s)
		}
	}
	amp := 1.0
	if len(stages) >= 3 {
		amp = 1.5
	} else if len(stages) == 2 {
		amp = 1.3
	}
	return math.Min(1.0, sum*amp), len(stages)
}

// TestClassifyFindingsOnlyIsOriginal compares Classify without violations
// with the reference on random inputs, and checks that violations only
// ever add.
func TestClassifyFindingsOnlyIsOriginal(t *testing.T) {
	cats := []string{"pii_network", "obfuscation", "crypto_misuse", "supply_chain", "command_injection", "privilege_escalation",
		"filesystem_abuse", "data_exfiltration", "cloud_credential", "pii", "api_key", "high_entropy", "compliance_hipaa"}
	types := guard.Types()
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		fs := make([]scan.Finding, r.IntN(6))
		for j := range fs {
			fs[j] = finding(cats[r.IntN(len(cats))], scan.Severity(r.IntN(5)))
		}
		a := Classify(fs, nil)
		score, n := referenceClassify(fs)
		if a.IntentScore != score || len(a.KillChainStages) != n || !slices.IsSorted(a.KillChainStages) {
			t.Fatalf("%v: Classify %+v, reference %v (%d stages)", fs, a, score, n)
		}
		if b := Classify(fs, []guard.Violation{}); !reflect.DeepEqual(a, b) {
			t.Fatalf("empty violations changed the result: %+v vs %+v", a, b)
		}
		vs := []guard.Violation{{Type: types[r.IntN(len(types))]}}
		if c := Classify(fs, vs); c.IntentScore < a.IntentScore || c.Escalation < a.Escalation {
			t.Fatalf("a violation lowered the assessment: %+v → %+v", a, c)
		}
	}
}

func TestTierOfBoundaries(t *testing.T) {
	for _, tt := range []struct {
		score float64
		tier  Tier
		esc   Escalation
	}{{0, Benign, Tier1Log}, {0.19999999999999998, Benign, Tier1Log}, {0.2, Suspicious, Tier2Alert},
		{0.49999999999999994, Suspicious, Tier2Alert}, {0.5, LikelyMalicious, Tier3Suspend},
		{0.8, Malicious, Tier4Revoke}, {1, Malicious, Tier4Revoke}} {
		if tier, esc := TierOf(tt.score); tier != tt.tier || esc != tt.esc {
			t.Errorf("TierOf(%v) = %v %v, want %v %v", tt.score, tier, esc, tt.tier, tt.esc)
		}
	}
}

func TestNames(t *testing.T) {
	if s := CommandAndControl.String(); s != "command_and_control" {
		t.Errorf("Display %q", s)
	}
	if s := Tier3Suspend.String(); s != "tier3_suspend" {
		t.Errorf("Display %q", s)
	}
	a := Classify([]scan.Finding{finding("data_exfiltration", scan.High), finding("pii", scan.Low)}, nil)
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"intent_score":0.9750000000000001,"classification":"Malicious","escalation":"Tier4Revoke","kill_chain_stages":["CommandAndControl","Exfiltration"],"finding_count":2,"violation_count":0}`
	if string(b) != want {
		t.Errorf("JSON %s\nwant %s", b, want)
	}
	var back Assessment
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, a) {
		t.Errorf("round trip %+v, %v", back, err)
	}
	var s Stage
	if err := s.UnmarshalText([]byte("command_and_control")); err != nil || s != CommandAndControl {
		t.Errorf("snake-case parse: %v %v", s, err)
	}
	if err := s.UnmarshalText([]byte("nope")); err == nil {
		t.Error("parsed an unknown stage")
	}
}

func BenchmarkClassify(b *testing.B) {
	fs := []scan.Finding{finding("pii_network", scan.Low), finding("obfuscation", scan.Medium), finding("pii", scan.Low),
		finding("cloud_credential", scan.Critical), finding("api_key", scan.High)}
	vs := []guard.Violation{{Type: guard.BlockedCommand}, {Type: guard.ShellInjection}}
	b.ReportAllocs()
	for b.Loop() {
		Classify(fs, vs)
	}
}
