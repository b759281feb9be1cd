// Command probe is a WASI test module for the wasm backend's tests. Its
// first argument picks what it does.
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe MODE [ARG...]")
		os.Exit(2)
	}
	arg := func(i int) string {
		if len(os.Args) > i {
			return os.Args[i]
		}
		return ""
	}
	switch os.Args[1] {
	case "echo": // print the arguments after the mode, one a line, and to stderr "err"
		for _, a := range os.Args[2:] {
			fmt.Println(a)
		}
		fmt.Fprintln(os.Stderr, "err")
	case "args":
		fmt.Printf("%q\n", os.Args)
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
	case "cat":
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "exit":
		n, _ := strconv.Atoi(arg(2))
		os.Exit(n)
	case "alloc": // allocate N MiB and touch it
		n, _ := strconv.Atoi(arg(2))
		var keep [][]byte
		for range n {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			keep = append(keep, b)
		}
		fmt.Println("allocated", len(keep))
	case "spin":
		fmt.Println("spinning")
		for {
		}
	case "sleep":
		d, _ := time.ParseDuration(arg(2))
		fmt.Println("sleeping")
		time.Sleep(d)
	case "read":
		b, err := os.ReadFile(arg(2))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Print(string(b))
	case "write":
		if err := os.WriteFile(arg(2), []byte(arg(3)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("written")
	case "ls":
		es, err := os.ReadDir(arg(2))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, e := range es {
			fmt.Println(e.Name())
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}
