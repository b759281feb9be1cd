// Command kavach runs commands in a sandbox and inspects sandboxes.
//
// Exit codes follow runc, podman and timeout(1): the command's own code;
// 124 when the timeout killed it; 125 when kavach itself failed (bad
// flags, backend unavailable); 126 when the command cannot be executed;
// 127 when it is not found; 128+N when signal N killed it.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kavach-go/kavach"
)

// Exit codes of kavach's own.
const (
	exitTimeout       = 124
	exitKavachFailed  = 125
	exitNotExecutable = 126
	exitNotFound      = 127
)

func main() {
	kavach.Init()
	os.Exit(execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// subcommands are added by each command's file with register.
var subcommands []func() *cobra.Command

// register adds a subcommand constructor; call it from an init function.
func register(f func() *cobra.Command) { subcommands = append(subcommands, f) }

// exitErr makes execute exit with a chosen code; err, when not nil, is
// printed first as "kavach: err".
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitErr) Unwrap() error { return e.err }

// exitCode returns an error that makes kavach exit with code, printing
// err (if any) on stderr.
func exitCode(code int, err error) error { return &exitErr{code: code, err: err} }

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "kavach",
		Short:         "Run untrusted commands in real isolation",
		Long:          "kavach runs commands in a sandbox, scores how strong the isolation is (0-100), and reports what was really enforced.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())
	})
	root.CompletionOptions.DisableDefaultCmd = true
	for _, f := range subcommands {
		root.AddCommand(f())
	}
	return root
}

// execute runs the CLI and returns the process exit code.
func execute(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitErr
	if errors.As(err, &ee) {
		if ee.err != nil {
			printErr(stderr, ee.err)
		}
		return ee.code
	}
	printErr(stderr, err)
	return exitKavachFailed
}

// printErr prints err on one line, as "kavach: ...".
func printErr(w io.Writer, err error) {
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
	fmt.Fprintf(w, "kavach: %s\n", msg)
}
