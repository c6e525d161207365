/* pages.c - lists that come in pages: follows the tokens until the end or
 * --limit, keeps the replies the items point into, and leaves what to do
 * with the items (gather them, print them) to the command. */
#include <stdlib.h>
#include <string.h>

#include "orgctl.h"

void *
od_ctl_grow(void *arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap && arr != NULL) {
		return arr;
	}
	size_t n = *cap == 0 ? 16 : *cap;
	while (n < need) {
		n *= 2;
	}
	void *grown = realloc(arr, n * elem);
	if (grown != NULL) {
		*cap = n;
	}
	return grown;
}

void *
od_ctl_append(void *arr, size_t *cap, size_t *n, const void *page, size_t take, size_t elem)
{
	char *list = od_ctl_grow(arr, cap, *n + take, elem);
	if (list != NULL && take > 0) { /* an empty page's NULL array is not memcpy's */
		memcpy(list + *n * elem, page, take * elem);
		*n += take;
	}
	return list;
}

/* Takes reply; in a stream, the replies before it are done with. */
static bool
hold(struct od_ctl_pages *p, orgdir_reply *reply, bool stream)
{
	if (stream) {
		for (size_t i = 0; i < p->n_replies; i++) {
			orgdir_reply_free(p->replies[i]);
		}
		p->n_replies = 0;
	}
	orgdir_reply **r = od_ctl_grow(p->replies, &p->cap, p->n_replies + 1, sizeof(*r));
	if (r == NULL) {
		return false;
	}
	p->replies = r;
	p->replies[p->n_replies++] = reply;
	return true;
}

int
od_ctl_pages_run(struct od_ctl *c, const struct od_ctl_list *l, long limit, long page_size,
    struct od_ctl_pages *p)
{
	const char *token = "";
	memset(p, 0, sizeof(*p));
	p->token = "";
	for (;;) {
		int32_t ps = (int32_t) page_size;
		if (limit > 0) {
			long remaining = limit - (long) p->n_items;
			long want = page_size > 0 ? page_size : OD_PAGE_DEFAULT;
			ps = (int32_t) (remaining < want ? remaining : want);
		}
		struct od_ctl_page pg = {NULL, 0, "", 0};
		orgdir_status st = {0};
		if (l->fetch(c, l->arg, ps, token, &pg, &st) != ORGDIR_OK) {
			return od_ctl_fail(&st);
		}
		size_t take = pg.n;
		bool cut = false;
		if (limit > 0 && (long) (p->n_items + take) > limit) {
			take = (size_t) (limit - (long) p->n_items);
			cut = true; /* the server sent more than asked */
		}
		/* The token must change from page to page, or we would loop
		 * (compared before `hold` may free the page that holds it). */
		bool stuck =
		    pg.next_page_token[0] != '\0' && strcmp(pg.next_page_token, token) == 0;
		if (!hold(p, pg.reply, l->stream)) {
			orgdir_reply_free(pg.reply);
			return od_ctl_fail_local("out of memory");
		}
		int rc = l->keep(c, l->arg, take);
		if (rc != 0) {
			return rc;
		}
		p->n_items += take;
		p->n_pages++;
		p->total = pg.total_size;
		token = cut ? "" : pg.next_page_token;
		p->token = token;
		if (stuck) {
			return od_ctl_fail_local("the server returned the same page token twice");
		}
		if (token[0] == '\0' || (limit > 0 && (long) p->n_items >= limit) ||
		    (l->max_pages > 0 && p->n_pages >= l->max_pages)) {
			return 0;
		}
	}
}

void
od_ctl_pages_free(struct od_ctl_pages *p)
{
	for (size_t i = 0; i < p->n_replies; i++) {
		orgdir_reply_free(p->replies[i]);
	}
	free(p->replies);
	memset(p, 0, sizeof(*p));
}
