package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// benchMessage returns message n of a realistic stream: 50 busy chats, and
// msg_ids that look like Yunhu's (uuid4 hex), random in key order.
func benchMessage(n int64) store.Message {
	h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(n)))
	return store.Message{
		Conv:       fmt.Sprintf("yunhu:g:group-%d", n%50),
		MsgID:      hex.EncodeToString(h[:16]),
		Seq:        n,
		SenderID:   "7058262",
		SenderName: "alice",
		Time:       time.Unix(1700000000, 0).Add(time.Duration(n) * time.Millisecond),
		Body:       []byte(`{"text":"hello, this is a fairly ordinary chat message of some length"}`),
	}
}

func openBench(b *testing.B) *store.Store {
	return openAt(b, store.Options{Path: b.TempDir() + "/store.db", Log: zap.NewNop()})
}

// BenchmarkPutMessage is one caller putting new messages back to back: each
// put waits for its own commit.
func BenchmarkPutMessage(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.PutMessage(ctx, benchMessage(int64(i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkPutMessageParallel is 64 concurrent callers, as when many chats
// are busy at once; group commit turns them into large batches.
func BenchmarkPutMessageParallel(b *testing.B) {
	benchParallel(b, openBench(b), 0)
}

// BenchmarkPutMessageParallelPrefilled is BenchmarkPutMessageParallel on a
// store that already holds 100,000 messages, all merged into the key index.
func BenchmarkPutMessageParallelPrefilled(b *testing.B) {
	s := openBench(b)
	const prefill = 100_000
	msgs := make([]store.Message, prefill)
	for i := range msgs {
		msgs[i] = benchMessage(int64(i))
	}
	ctx := context.Background()
	if _, err := s.PutMessages(ctx, msgs); err != nil {
		b.Fatal(err)
	}
	if err := s.MergeIndex(ctx); err != nil {
		b.Fatal(err)
	}
	benchParallel(b, s, prefill)
}

func benchParallel(b *testing.B, s *store.Store, first int64) {
	ctx := context.Background()
	n := atomic.Int64{}
	n.Store(first)
	// RunParallel starts parallelism × GOMAXPROCS goroutines.
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.PutMessage(ctx, benchMessage(n.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkPutMessages is one caller putting 100 messages per call.
func BenchmarkPutMessages(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	const batch = 100
	msgs := make([]store.Message, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		for j := range msgs {
			msgs[j] = benchMessage(int64(i + j))
		}
		if _, err := s.PutMessages(ctx, msgs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkMessageID is the lookup done for every reply and recall, against
// 20,000 messages of which half are merged into the key index.
func BenchmarkMessageID(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	const n = 20_000
	msgs := make([]store.Message, n)
	for i := range msgs {
		msgs[i] = benchMessage(int64(i))
	}
	if _, err := s.PutMessages(ctx, msgs[:n/2]); err != nil {
		b.Fatal(err)
	}
	if err := s.MergeIndex(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := s.PutMessages(ctx, msgs[n/2:]); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m := &msgs[next.Add(1)%n]
			if _, err := s.MessageID(m.Conv, m.MsgID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkMessage is get_msg: reading a stored record by id.
func BenchmarkMessage(b *testing.B) {
	s := openBench(b)
	const n = 10_000
	msgs := make([]store.Message, n)
	for i := range msgs {
		msgs[i] = benchMessage(int64(i))
	}
	if _, err := s.PutMessages(context.Background(), msgs); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var i int32
		for pb.Next() {
			i = i%n + 1
			if _, err := s.Message(i); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
