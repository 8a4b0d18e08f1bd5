package store_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// writerEnv names the store file for TestHelperWriter; without it the test
// is skipped.
const writerEnv = "STORE_TEST_WRITER_PATH"

// TestHelperWriter is the child process of TestKillDurability. It puts
// messages from several goroutines until it is killed, and prints a line for
// each only after PutMessage has returned its id.
func TestHelperWriter(t *testing.T) {
	path := os.Getenv(writerEnv)
	if path == "" {
		t.Skip("runs only as the child of TestKillDurability")
	}
	s, err := store.Open(store.Options{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// Merge often, so the kill also lands during merges.
	if err := s.SetMergeThresholds(context.Background(), 0, 64, 256, 50); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex // serializes lines on stdout
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				m := store.Message{
					Conv:  fmt.Sprintf("%d:chat-%d", 1+g%2, g%3),
					MsgID: fmt.Sprintf("w%d-%d", g, i),
				}
				id, err := s.PutMessage(context.Background(), m)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Printf("ack %d %s %s\n", id, m.Conv, m.MsgID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait() // never returns: the parent kills the process
}

// TestKillDurability kills a writing process with SIGKILL and checks that
// every id it acknowledged survived, mapped exactly as acknowledged, and
// that allocation resumes above all of them.
func TestKillDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	path := filepath.Join(t.TempDir(), "store.db")
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), writerEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	type ack struct {
		conv, msgID string
	}
	acks := map[int32]ack{}
	const want = 2000
	killed := false
	sc := bufio.NewScanner(stdout)
	// Keep reading after the kill: lines already in the pipe were written
	// after their put returned, so they are acknowledgements too.
	for sc.Scan() {
		var (
			id int32
			a  ack
		)
		if _, err := fmt.Sscanf(sc.Text(), "ack %d %s %s", &id, &a.conv, &a.msgID); err != nil {
			continue // test framework output
		}
		if prev, dup := acks[id]; dup {
			t.Fatalf("id %d acknowledged twice: %+v and %+v", id, prev, a)
		}
		acks[id] = a
		if len(acks) >= want && !killed {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("writer did not reach %d acks in time (got %d): %v", want, len(acks), err)
	}
	if !killed {
		t.Fatalf("writer exited after %d acks: %v", len(acks), err)
	}
	t.Logf("writer killed after %d acknowledged puts", len(acks))

	s := openAt(t, store.Options{Path: path})
	t.Logf("%d keys were pending at the kill", s.PendingKeys())
	var maxID int32
	for id, a := range acks {
		got, err := s.MessageID(a.conv, a.msgID)
		if err != nil || got != id {
			t.Errorf("MessageID(%+v) = %d, %v; acknowledged as %d", a, got, err, id)
		}
		m, err := s.Message(id)
		if err != nil || m.Conv != a.conv || m.MsgID != a.msgID {
			t.Errorf("Message(%d) = %+v, %v; acknowledged as %+v", id, m, err, a)
		}
		maxID = max(maxID, id)
	}
	id := mustPut(t, s, store.Message{Conv: "2:after", MsgID: "restart"})
	if id <= maxID {
		t.Errorf("id after restart = %d, not above the largest acknowledged id %d", id, maxID)
	}
	mustCheck(t, s)
}
