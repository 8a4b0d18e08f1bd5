package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yunhu-onebot/yunhu-onebot/store"
	"go.uber.org/zap"
)

func benchMessage(n int64) store.Message {
	return store.Message{
		ChatType:   2,
		ChatID:     fmt.Sprintf("group-%d", n%50),
		MsgID:      fmt.Sprintf("%032x", n),
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

// BenchmarkPutMessageParallel is about 64 concurrent callers, as when many
// chats are busy at once; group commit should turn them into large batches.
func BenchmarkPutMessageParallel(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(32) // 32 × GOMAXPROCS goroutines: 64 on two cores
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

// BenchmarkMessage is get_msg: a read of a stored record.
func BenchmarkMessage(b *testing.B) {
	s := openBench(b)
	const n = 10000
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
