// Command hello exercises the Go runtime the way real Go programs do
// (threads, fork and exec, files, netlink, timers), for the strict
// profile's tests. It is built with CGO_ENABLED=0 into a static binary.
package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"time"
)

func main() {
	var wg sync.WaitGroup
	sums := make([]int, 8)
	for i := range sums {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1_000_000; j++ {
				sums[i] += j
			}
		}()
	}
	wg.Wait()
	if err := exec.Command("true").Run(); err != nil {
		fmt.Fprintln(os.Stderr, "exec true:", err)
		os.Exit(1)
	}
	f, err := os.CreateTemp("", "hello")
	if err != nil {
		fmt.Fprintln(os.Stderr, "create temp:", err)
		os.Exit(1)
	}
	f.WriteString("x")
	f.Close()
	os.Remove(f.Name())
	if _, err := net.Interfaces(); err != nil {
		fmt.Fprintln(os.Stderr, "interfaces:", err)
		os.Exit(1)
	}
	time.Sleep(5 * time.Millisecond)
	fmt.Println("hello from go")
}
