// Command workload is the one program of the real-node test images: a static binary whose
// behaviour is chosen by its arguments, so every pod state a test needs comes from one image
// built from source, with no registry and no shell.
//
//	workload serve          a log line per second; creates the file named by $READY_FILE, if set
//	workload exit CODE      prints a line and exits with CODE
//	workload oom            allocates (and touches) memory until the kernel kills it
//	workload sleep SECONDS  sleeps, then exits 0
//	workload check FILE     exits 0 if FILE exists, 1 if not (an exec probe)
//	workload echo ARGS...   prints ARGS on one line and exits 0
//	workload pause          sleeps until SIGTERM/SIGINT (the pod sandbox image)
//
// SIGTERM and SIGINT end every mode at once with status 0, as PID 1 gets no default handlers.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const usage = "usage: workload serve | exit CODE | oom | sleep SECONDS | check FILE | echo ARGS... | pause"

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-stop
		fmt.Printf("workload: %v received, exiting\n", sig)
		os.Exit(0)
	}()
	args := os.Args[1:]
	if len(args) == 0 {
		args = []string{"serve"}
	}
	switch mode, rest := args[0], args[1:]; mode {
	case "serve":
		serve()
	case "exit":
		code := 1
		if len(rest) > 0 {
			code = number(rest[0])
		}
		fmt.Printf("workload: exiting with code %d\n", code)
		os.Exit(code)
	case "oom":
		oom()
	case "sleep":
		seconds := 3600
		if len(rest) > 0 {
			seconds = number(rest[0])
		}
		time.Sleep(time.Duration(seconds) * time.Second)
	case "check":
		if len(rest) != 1 {
			fail("check needs one FILE")
		}
		if _, err := os.Stat(rest[0]); err != nil {
			fmt.Fprintf(os.Stderr, "workload: %v\n", err)
			os.Exit(1)
		}
	case "echo":
		fmt.Println(strings.Join(rest, " "))
	case "pause":
		select {}
	default:
		fail("unknown mode " + strconv.Quote(mode))
	}
}

func serve() {
	if ready := os.Getenv("READY_FILE"); ready != "" {
		if err := os.WriteFile(ready, []byte("ready\n"), 0o644); err != nil {
			fail(err.Error())
		}
	}
	hostname, _ := os.Hostname()
	for tick := 1; ; tick++ {
		fmt.Printf("%s serve %s tick %d\n", time.Now().UTC().Format(time.RFC3339), hostname, tick)
		time.Sleep(time.Second)
	}
}

// oom keeps every chunk it allocates and writes to each page, so the memory is really used.
func oom() {
	var kept [][]byte
	for mib := 16; ; mib += 16 {
		chunk := make([]byte, 16<<20)
		for i := 0; i < len(chunk); i += 4096 {
			chunk[i] = 1
		}
		kept = append(kept, chunk)
		fmt.Printf("workload: %d MiB allocated\n", mib)
		time.Sleep(20 * time.Millisecond)
	}
}

func number(text string) int {
	n, err := strconv.Atoi(text)
	if err != nil {
		fail("not a number: " + strconv.Quote(text))
	}
	return n
}

func fail(message string) {
	fmt.Fprintf(os.Stderr, "workload: %s\n%s\n", message, usage)
	os.Exit(2)
}
