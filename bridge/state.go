package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/store"
)

// BackendState is the store's key/value entries as a backend keeps its own
// state in them (Yunhu: the requests it has reported), so that a backend
// needs no store of its own and knows nothing of this one: a missing key
// is an error matching platform.ErrNotFound.
type BackendState struct{ st *store.Store }

// NewBackendState returns the state kept in st.
func NewBackendState(st *store.Store) BackendState { return BackendState{st: st} }

// Get returns the value of key.
func (s BackendState) Get(key string) ([]byte, error) {
	v, err := s.st.Get(key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", key, platform.ErrNotFound)
	}
	return v, err
}

// Set stores value under key, durably.
func (s BackendState) Set(ctx context.Context, key string, value []byte) error {
	return s.st.Set(ctx, key, value)
}
