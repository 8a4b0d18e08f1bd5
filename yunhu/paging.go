package yunhu

// CollectPages reads a paged listing from page 1 on, as Yunhu serves
// them: a page that is not the last may hold fewer items than asked, the
// total may be left out (0), and a server may serve the same page again.
// So only a page of nothing new (empty, or only items already seen), the
// server's total reached, maxItems held or maxPages read ends the list;
// maxItems or maxPages 0 means no such bound. fetch returns one page and
// the server's total; key tells items apart. total is the last total the
// server gave.
func CollectPages[T any, K comparable](maxPages, maxItems int, fetch func(page int) ([]T, int, error),
	key func(T) K) (all []T, total int, err error) {
	seen := make(map[K]bool)
	for page := 1; (maxPages == 0 || page <= maxPages) && (maxItems == 0 || len(all) < maxItems); page++ {
		items, n, err := fetch(page)
		if err != nil {
			return nil, 0, err
		}
		total = n
		fresh := 0
		for _, it := range items {
			if k := key(it); !seen[k] {
				seen[k] = true
				all = append(all, it)
				fresh++
			}
		}
		if fresh == 0 || (total > 0 && len(all) >= total) {
			break
		}
	}
	return all, total, nil
}
