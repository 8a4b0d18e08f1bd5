package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"go.etcd.io/bbolt"
)

// AliasBase is where aliases start. A platform id that is a canonical
// decimal below AliasBase stands for itself; every other platform id is
// given an alias in AliasBase+1 ... 2^53-1. 2^53 is the largest range a
// float64, and so a JavaScript client, can hold exactly.
const AliasBase int64 = 1 << 52

// aliasEnd is the first number past the alias range.
const aliasEnd int64 = 1 << 53

// IsAlias reports whether n lies in the alias range, that is whether it
// stands for a non-numeric platform id rather than for itself.
func IsAlias(n int64) bool {
	return n > AliasBase && n < aliasEnd
}

// Alias returns the alias of platformID, allocating the next one if it has
// none. A new alias is durable before Alias returns.
func (s *Store) Alias(ctx context.Context, platformID string) (int64, error) {
	if platformID == "" {
		return 0, fmt.Errorf("alias: %w: empty platform id", ErrInvalid)
	}
	if err := checkLen("platform id", platformID, maxIDLen); err != nil {
		return 0, fmt.Errorf("alias: %w", err)
	}
	key := []byte(platformID)
	n, err := s.lookupAlias(key)
	if err == nil {
		return n, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return 0, fmt.Errorf("alias: %w", err)
	}
	err = s.do(ctx, funcOp(func(w *writeTx) error {
		n, err = w.alias(key)
		return err
	}))
	if err != nil {
		return 0, fmt.Errorf("alias: %w", err)
	}
	return n, nil
}

func (s *Store) lookupAlias(key []byte) (int64, error) {
	var n int64
	err := s.view(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketAliases).Get(key)
		if v == nil {
			return ErrNotFound
		}
		if len(v) != 8 {
			return errCorrupt
		}
		n = int64(binary.BigEndian.Uint64(v))
		return nil
	})
	return n, err
}

// alias looks key up again inside the transaction, since another caller may
// have allocated it since the caller's read.
func (w *writeTx) alias(key []byte) (int64, error) {
	if v := w.aliases.Get(key); v != nil {
		if len(v) != 8 {
			return 0, errCorrupt
		}
		return int64(binary.BigEndian.Uint64(v)), nil
	}
	n := AliasBase + int64(w.lastAlias) + 1
	if n >= aliasEnd {
		return 0, reject(errors.New("alias range exhausted"))
	}
	nk := binary.BigEndian.AppendUint64(nil, uint64(n))
	if err := w.aliases.Put(key, nk); err != nil {
		return 0, fmt.Errorf("put alias: %w", err)
	}
	if err := w.aliasIDs.Put(nk, key); err != nil {
		return 0, fmt.Errorf("put alias id: %w", err)
	}
	w.lastAlias++
	w.aliasDirty = true
	return n, nil
}

// ResolveAlias returns the platform id whose alias is n, or ErrNotFound.
func (s *Store) ResolveAlias(n int64) (string, error) {
	if !IsAlias(n) {
		return "", fmt.Errorf("resolve alias %d: %w", n, ErrNotFound)
	}
	var id string
	err := s.view(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketAliasIDs).Get(binary.BigEndian.AppendUint64(nil, uint64(n)))
		if v == nil {
			return ErrNotFound
		}
		id = string(v)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("resolve alias %d: %w", n, err)
	}
	return id, nil
}

// ToInt returns the OneBot number for a platform id: the id itself if it is
// a canonical decimal below AliasBase, otherwise its alias, allocated if
// needed.
func (s *Store) ToInt(ctx context.Context, platformID string) (int64, error) {
	if n, ok := numericID(platformID); ok {
		return n, nil
	}
	return s.Alias(ctx, platformID)
}

// FromInt is the inverse of ToInt. It returns ErrNotFound for an alias that
// was never allocated, and for negative numbers and numbers at or past
// AliasBase that are not aliases.
func (s *Store) FromInt(n int64) (string, error) {
	if n >= 0 && n < AliasBase {
		return strconv.FormatInt(n, 10), nil
	}
	return s.ResolveAlias(n)
}

// numericID reports whether id is a canonical decimal below AliasBase:
// digits only, no sign, no leading zero except "0" itself. Only such ids
// survive the trip through FormatInt unchanged.
func numericID(id string) (int64, bool) {
	if id == "" || len(id) > 16 || (id[0] == '0' && len(id) > 1) {
		return 0, false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n >= AliasBase {
		return 0, false
	}
	return n, true
}
