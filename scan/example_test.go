package scan_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/kavach-go/kavach/scan"
)

func ExampleAll() {
	out := []byte("card 4111 1111 1111 1111, reach me at bob@corp.io")
	for _, f := range scan.All().Scan(out) {
		fmt.Println(f.Scanner, f.RuleID, f.Severity, f.Start, f.End, f.Evidence)
	}
	// Output:
	// data credit-card-visa critical 5 24 4111…1111
	// data email-address low 38 49 bo…io
}

func ExampleGate_Apply() {
	g := scan.NewGate(scan.DefaultGatePolicy(), nil)
	o, err := g.Apply(context.Background(), []byte("contact: bob@corp.io\n"), nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(o.Verdict, o.Worst)
	fmt.Printf("%s", o.Stdout)
	// Output:
	// warn low
	// contact: [REDACTED:pii]
}

func ExampleRedact() {
	in := []byte("rm -rf / && echo done")
	fmt.Printf("%s\n", scan.Redact(in, scan.Code().Scan(in)))
	// Output:
	// [REDACTED:filesystem_abuse] / && echo done
}

func ExampleStream() {
	r := strings.NewReader("line 1\nuser: alice@corp.io\n")
	n, err := scan.Stream(context.Background(), r, scan.Data(), func(f scan.Finding) error {
		fmt.Println(f.RuleID, f.Start, f.End)
		return nil
	})
	fmt.Println(n, err)
	// Output:
	// email-address 13 26
	// 27 <nil>
}

func ExampleRedactAll() {
	fmt.Printf("%s\n", scan.RedactAll([]byte("DB_PASSWORD=s3cr3t-Pa55 # for 10.0.0.7"), scan.All()))
	// Output:
	// DB_[REDACTED:credential] # for [REDACTED:pii_network]
}
