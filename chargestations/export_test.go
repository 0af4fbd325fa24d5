package chargestations

import "context"

// What the package's external tests reach of its insides.

// PageFromCache is pageFromCache.
var PageFromCache = pageFromCache

// ServeWithoutListening makes c serve without hearing any change made in the database: a
// node whose notifications have not arrived yet.
func ServeWithoutListening(c *AnswerCache) { c.serve() }

// WarmAnswersByPagesOf is Service.WarmAnswers reading pages of size stations.
func WarmAnswersByPagesOf(ctx context.Context, s *Service, size int) (int, error) {
	return warm(ctx, s.answers, s.store.PageByID, size)
}
