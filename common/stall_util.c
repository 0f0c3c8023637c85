/* The stall detector's containers: counted memory, intrusive lists, chained
 * hash tables and string sets. Kept apart from the decisions so that those
 * read as the rules they implement. */
#include <stdlib.h>
#include <string.h>

#include "stall_int.h"

/* ---- memory: every byte is counted, so voc_stall_memory() is exact ---- */

void *stall_alloc(struct voc_stall *s, size_t n)
{
    void *p = calloc(1, n);
    if (!p) {
        s->oom = true;
        return NULL;
    }
    s->mem += n;
    return p;
}

void stall_free(struct voc_stall *s, void *p, size_t n)
{
    if (!p)
        return;
    s->mem -= n;
    free(p);
}

/* Like realloc, but a failure leaves p as it was (and is remembered). */
void *stall_grow(struct voc_stall *s, void *p, size_t old_n, size_t new_n)
{
    void *q = realloc(p, new_n);
    if (!q) {
        s->oom = true;
        return NULL;
    }
    s->mem = s->mem - old_n + new_n;
    return q;
}

char *stall_strdup(struct voc_stall *s, const char *text)
{
    size_t n = strlen(text) + 1;
    char *p = stall_alloc(s, n);
    if (p)
        memcpy(p, text, n);
    return p;
}

void stall_strfree(struct voc_stall *s, char *text)
{
    if (text)
        stall_free(s, text, strlen(text) + 1);
}

void stall_strset_slot(struct voc_stall *s, char **slot, const char *text)
{
    if (!text) {
        stall_strfree(s, *slot);
        *slot = NULL;
        return;
    }
    if (*slot && strcmp(*slot, text) == 0)
        return;
    char *copy = stall_strdup(s, text);
    if (!copy)
        return; /* keep the old context rather than none; s->oom reports it */
    stall_strfree(s, *slot);
    *slot = copy;
}

/* ---- lists ---- */

void stall_list_init(struct stall_link *head)
{
    head->prev = head->next = head;
}

void stall_list_append(struct stall_link *head, struct stall_link *l)
{
    l->prev = head->prev;
    l->next = head;
    head->prev->next = l;
    head->prev = l;
}

void stall_list_remove(struct stall_link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = l;
}

bool stall_list_empty(const struct stall_link *head)
{
    return head->next == head;
}

/* ---- hash tables ---- */

/* FNV-1a: ids are short and not chosen by an adversary. */
uint64_t stall_hash(const char *key)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h;
}

struct stall_hnode *stall_htab_find(const struct stall_htab *t, uint64_t hash, const char *key)
{
    if (!t->nslots)
        return NULL;
    for (struct stall_hnode *n = t->slots[hash & (t->nslots - 1)]; n; n = n->next)
        if (n->hash == hash && strcmp(n->key, key) == 0)
            return n;
    return NULL;
}

static int htab_resize(struct voc_stall *s, struct stall_htab *t, size_t nslots)
{
    struct stall_hnode **slots = stall_alloc(s, nslots * sizeof(struct stall_hnode *));
    if (!slots)
        return -1;
    for (size_t i = 0; i < t->nslots; i++) {
        struct stall_hnode *n = t->slots[i];
        while (n) {
            struct stall_hnode *next = n->next;
            size_t at = n->hash & (nslots - 1);
            n->next = slots[at];
            slots[at] = n;
            n = next;
        }
    }
    stall_free(s, t->slots, t->nslots * sizeof(struct stall_hnode *));
    t->slots = slots;
    t->nslots = nslots;
    return 0;
}

int stall_htab_insert(struct voc_stall *s, struct stall_htab *t, struct stall_hnode *n)
{
    /* Doubling at load factor 1 keeps chains short and the cost amortised. */
    if (t->count >= t->nslots && htab_resize(s, t, t->nslots ? t->nslots * 2 : 64) < 0)
        return -1;
    size_t at = n->hash & (t->nslots - 1);
    n->next = t->slots[at];
    t->slots[at] = n;
    t->count++;
    return 0;
}

void stall_htab_remove(struct voc_stall *s, struct stall_htab *t, struct stall_hnode *n)
{
    struct stall_hnode **pp = &t->slots[n->hash & (t->nslots - 1)];
    while (*pp && *pp != n)
        pp = &(*pp)->next;
    if (!*pp)
        return;
    *pp = n->next;
    t->count--;
    /* Shrink after a crowd has gone home so memory follows the population;
     * the 8x gap to the growth point stops resizing back and forth. If the
     * smaller table cannot be had, the big one still works. */
    if (t->nslots > 1024 && t->count * 8 < t->nslots) {
        bool had_oom = s->oom;
        if (htab_resize(s, t, t->nslots / 2) < 0)
            s->oom = had_oom;
    }
}

void stall_htab_free(struct voc_stall *s, struct stall_htab *t)
{
    stall_free(s, t->slots, t->nslots * sizeof(struct stall_hnode *));
    memset(t, 0, sizeof *t);
}

/* ---- string sets ---- */

static size_t strset_slot(const struct stall_strset *set, const char *text)
{
    size_t mask = set->nindex - 1;
    size_t at = stall_hash(text) & mask;
    while (set->index[at] && strcmp(set->items[set->index[at] - 1], text) != 0)
        at = (at + 1) & mask;
    return at;
}

static int strset_reindex(struct voc_stall *s, struct stall_strset *set, size_t nindex)
{
    uint32_t *index = stall_alloc(s, nindex * sizeof *index);
    if (!index)
        return -1;
    stall_free(s, set->index, set->nindex * sizeof *set->index);
    set->index = index;
    set->nindex = nindex;
    for (size_t i = 0; i < set->count; i++)
        set->index[strset_slot(set, set->items[i])] = (uint32_t)(i + 1);
    return 0;
}

int stall_strset_add(struct voc_stall *s, struct stall_strset *set, const char *text)
{
    if (!text)
        return 0;
    if (set->count * 2 >= set->nindex && strset_reindex(s, set, set->nindex ? set->nindex * 2 : 16))
        return -1;
    size_t at = strset_slot(set, text);
    if (set->index[at])
        return 0;
    if (set->count == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 8;
        char **items = stall_grow(s, set->items, set->cap * sizeof *items, cap * sizeof *items);
        if (!items)
            return -1;
        set->items = items;
        set->cap = cap;
    }
    char *copy = stall_strdup(s, text);
    if (!copy)
        return -1;
    set->items[set->count++] = copy;
    set->index[at] = (uint32_t)set->count;
    return 0;
}

bool stall_strset_has(const struct stall_strset *set, const char *text)
{
    return set->nindex && text && set->index[strset_slot(set, text)] != 0;
}

void stall_strset_clear(struct voc_stall *s, struct stall_strset *set)
{
    for (size_t i = 0; i < set->count; i++)
        stall_strfree(s, set->items[i]);
    stall_free(s, set->items, set->cap * sizeof *set->items);
    stall_free(s, set->index, set->nindex * sizeof *set->index);
    memset(set, 0, sizeof *set);
}
