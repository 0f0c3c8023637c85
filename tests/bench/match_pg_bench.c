/* match_pg_bench [ITEMS] [QUERIES]: the near-duplicate lookup of voc-aggregate
 * against a real PostgreSQL (what match_eval's in-memory table stands for).
 *
 * Connects with libpq's PG* environment (e.g. under `pg_virtualenv`), creates
 * the database bench_match_<pid>, applies the migrations, and loads ITEMS
 * (default 100,000) open text-born items (entity NULL) of the dimension
 * "class", spread over its 5 categories: complaint-like Chinese (3/4) and
 * English (1/4) texts made of 194 phrases in six slots (opener, subject,
 * problem, detail, consequence, request) with numbers, ids and phone numbers,
 * each masked, normalised and signed the way voc-ingest and voc-aggregate do
 * it, with its signature in voc.item.signatures and its 16 band rows in
 * voc.item_band (COPY into a staging table, then INSERT ... SELECT). After
 * VACUUM (ANALYZE) it runs QUERIES (default 20,000) lookups with the exact
 * statement of match_text() in services/voc-aggregate/itemdb.c, in
 * transactions of 200 (the default aggregate.batch_size), and computes the
 * MinHash similarity of every candidate in C as the service does. Half the
 * queries are near-copies of an existing item (same phrases, other numbers,
 * ids, phone numbers, punctuation, digit width and case), half are new texts:
 * no item shares four of their five content phrases (the opener does not
 * count). It prints the time per lookup (statement, and statement plus
 * similarities), the candidate rows returned, how often a near-copy's item was
 * among them (lookup recall) and won at the shipped threshold 0.85, how often
 * a new text reached 0.85 with some item (false merges), the WAL the row locks
 * write, where the server spends the time (planning, execution), and the
 * EXPLAIN (ANALYZE, BUFFERS) plan of one lookup. The database is dropped at
 * the end.
 *
 * Exit: 0 done, 2 bad usage, 1 any failure (message on stderr). */
#include <stdarg.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "voc/db.h"
#include "voc/match.h"
#include "voc/pii.h"
#include "voc/textnorm.h"

#define THRESHOLD   0.85  /* aggregate.match_threshold default */
#define BATCH       200   /* aggregate.batch_size default: lookups per transaction */
#define WINDOW_H    "720" /* aggregate.regression_window_hours default */
#define OCCURRED_AT "2026-11-20 10:00:00+08"
#define DIMENSION   "class"
#define SIG_BYTES   ((size_t)VOC_MATCH_HASHES * 4)
#define NCAT        5
#define NSLOT       6 /* opener, subject, problem, detail, consequence, request */
#define EXAMPLES    3

/* Copied character for character from match_text() in
 * services/voc-aggregate/itemdb.c: the point is to measure the statement the
 * service runs. Change both together. */
#define MATCH_TEXT_SQL                                                                             \
    "SELECT t.id, t.state, i.signatures, coalesce($4::timestamptz > t.resolved_at, true),"         \
    " coalesce($4::timestamptz <= t.resolved_at + make_interval(hours => $5::int), true)"          \
    " FROM voc.item i JOIN voc.item t ON t.id = coalesce(i.merged_into, i.id)"                     \
    " WHERE i.id IN (SELECT b.item_id FROM voc.item_band b,"                                       \
    "  unnest($1::bigint[]) WITH ORDINALITY AS u(hash, band)"                                      \
    "  WHERE b.band = u.band - 1 AND b.hash = u.hash)"                                             \
    " AND i.dimension = $2 AND i.category = $3 AND i.entity IS NULL"                               \
    " AND t.merged_into IS NULL FOR UPDATE OF t"

static const char *const categories[NCAT] = {"teacher_attitude", "teacher_quality", "content",
                                             "schedule", "classroom_order"};

/* ---- generated complaints ------------------------------------------------- */

/* {N} is a number, {ID} an order or student number, {PHONE} a mobile number:
 * they differ between reports of one problem. Problems come in NCAT groups of
 * equal size, one per category, in the order of `categories`. */
static const char *const zh_open[] = {"",           "你好，",       "老师您好，", "投诉一下：",
                                      "紧急！",     "反映个问题，", "客服在吗？", "说一下，",
                                      "家长反馈：", "麻烦看看，"};
static const char *const zh_subject[] = {"孩子周{N}的英语课",
                                         "昨天晚上{N}点的数学课",
                                         "今天的直播课",
                                         "上周六的口语课",
                                         "这节阅读课",
                                         "我家孩子的钢琴课",
                                         "体验课",
                                         "物理辅导课",
                                         "周末的编程课",
                                         "早上{N}点那节课",
                                         "小班课",
                                         "一对一外教课",
                                         "作文课",
                                         "奥数班的课",
                                         "新报的书法课",
                                         "暑假班的课",
                                         "第{N}节课",
                                         "录播课",
                                         "拼音课",
                                         "科学实验课",
                                         "围棋课",
                                         "美术课",
                                         "历史课",
                                         "化学课"};
static const char *const zh_problem[] = {"老师态度很差",         "老师对孩子大吼大叫",
                                         "老师一直在玩手机",     "老师很不耐烦",
                                         "老师阴阳怪气批评孩子", "老师根本不理孩子提问",
                                         "老师讲得太快听不懂",   "老师口音太重",
                                         "老师备课不认真",       "老师讲错了好几个知识点",
                                         "老师照着课件念",       "老师水平明显不行",
                                         "课件内容太简单",       "教材和年级不匹配",
                                         "练习题答案是错的",     "内容跟上次重复",
                                         "讲的东西太难",         "课程内容和宣传不符",
                                         "老师又迟到了",         "课被临时取消",
                                         "上课时间改了没通知",   "提前下课",
                                         "调课申请没人处理",     "排课冲突",
                                         "课堂很乱没人管",       "有同学一直捣乱",
                                         "别的学生开麦吵闹",     "有人在聊天区刷屏",
                                         "课上有人乱画白板",     "老师管不住纪律"};
static const char *const zh_detail[] = {"已经{N}分钟了",
                                        "这是第{N}次",
                                        "等了{N}分钟",
                                        "整整{N}天",
                                        "订单号{ID}",
                                        "学号{ID}",
                                        "电话{PHONE}",
                                        "{N}月{N}日的事",
                                        "课时费{N}元",
                                        "群里{N}个家长都说了",
                                        "",
                                        "从{N}点开始"};
static const char *const zh_consequence[] = {
    "孩子很不开心",       "孩子不想再上", "作业都不会做",   "一节课白上",     "浪费我们时间",
    "孩子成绩下降",       "孩子哭着下线", "家长很失望",     "效果很差",       "完全学不到东西",
    "影响孩子学习",       "课时还被扣",   "孩子现在很抵触", "花了钱没效果",   "孩子听得一头雾水",
    "白白浪费课时",       "孩子被吓到",   "我们很生气",     "不是第一次这样", "其他家长也有意见",
    "孩子注意力全被打乱", "没法正常上课", "孩子跟不上进度", "全家心情很差"};
static const char *const zh_request[] = {
    "请尽快处理", "希望给个说法", "要求退款",   "请换老师",
    "请补一节课", "希望改进",     "请回电",     "不处理就投诉到12315",
    "给个解释",   "麻烦跟进一下", "请退还课时", "希望重视",
    "请核实情况", "等你们回复",   "请给个方案", "要求赔偿",
    "别再发生",   "请反馈给老师", "尽快回复我", ""};

static const char *const en_open[] = {"",           "hi,",     "hello support,",
                                      "complaint:", "urgent:", "please help,"};
static const char *const en_subject[] = {"my son's english class",
                                         "the math lesson at {N}pm",
                                         "today's live class",
                                         "last saturday's speaking class",
                                         "the trial lesson",
                                         "my daughter's piano lesson",
                                         "the coding class in week {N}",
                                         "lesson {N}",
                                         "the reading class",
                                         "our small group class",
                                         "the one-on-one class",
                                         "the weekend science class",
                                         "the physics tutoring",
                                         "the writing workshop"};
static const char *const en_problem[] = {"the teacher was rude",
                                         "the teacher yelled at the kids",
                                         "the teacher ignored every question",
                                         "the tutor was on the phone the whole time",
                                         "the teacher explained far too fast",
                                         "the teacher made several mistakes",
                                         "the teacher just read the slides",
                                         "the tutor was clearly unprepared",
                                         "the material is far too easy",
                                         "the exercises have wrong answers",
                                         "the content repeats the last lesson",
                                         "the course is not what was advertised",
                                         "the teacher was late again",
                                         "the class was cancelled without notice",
                                         "the time was changed and nobody told us",
                                         "the class ended early",
                                         "other students kept shouting",
                                         "someone spammed the chat",
                                         "nobody kept the class in order",
                                         "a student scribbled all over the whiteboard"};
static const char *const en_detail[] = {"for {N} minutes",  "for the {N}th time",     "order {ID}",
                                        "student id {ID}",  "call me at {PHONE}",     "on {N}/{N}",
                                        "we paid {N} yuan", "{N} parents complained", "",
                                        "since {N} o'clock"};
static const char *const en_consequence[] = {"my kid is upset",
                                             "we wasted the whole lesson",
                                             "he does not want to continue",
                                             "she learned nothing",
                                             "the lesson was useless",
                                             "his grades are dropping",
                                             "we are very disappointed",
                                             "my child cried",
                                             "this keeps happening",
                                             "the credits were still deducted",
                                             "we lost our evening",
                                             "it ruined the lesson",
                                             "the kids could not focus",
                                             "we cannot follow the course"};
static const char *const en_request[] = {"please fix this",
                                         "i want a refund",
                                         "please change the teacher",
                                         "give us a make-up class",
                                         "call me back",
                                         "please explain",
                                         "i expect compensation",
                                         "please follow up",
                                         "reply asap",
                                         ""};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

struct lang {
    const char *const *slot[NSLOT];
    int n[NSLOT];
    const char *const *sep, *const *end;
    int nsep, nend, cjk;
};

static const char *const zh_sep[] = {"，", ",", "。", "！", " ", "；", "、", "…"};
static const char *const zh_end[] = {"", "！", "!!", "。", "?", "？？", "..."};
static const char *const en_sep[] = {", ", ". ", "; ", " - ", "! ", " "};
static const char *const en_end[] = {"", ".", "!", "!!", "?", "..."};

static const struct lang langs[2] = {
    {{zh_open, zh_subject, zh_problem, zh_detail, zh_consequence, zh_request},
     {COUNT(zh_open), COUNT(zh_subject), COUNT(zh_problem), COUNT(zh_detail), COUNT(zh_consequence),
      COUNT(zh_request)},
     zh_sep,
     zh_end,
     COUNT(zh_sep),
     COUNT(zh_end),
     1},
    {{en_open, en_subject, en_problem, en_detail, en_consequence, en_request},
     {COUNT(en_open), COUNT(en_subject), COUNT(en_problem), COUNT(en_detail), COUNT(en_consequence),
      COUNT(en_request)},
     en_sep,
     en_end,
     COUNT(en_sep),
     COUNT(en_end),
     0}};

/* Which phrase of each slot a text uses. */
struct combo {
    uint8_t lang, part[NSLOT];
};

static uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static int rng_below(uint64_t *state, int n)
{
    return (int)(rng_next(state) % (uint64_t)n);
}

static int category_of(const struct combo *c)
{
    return c->part[2] * NCAT / langs[c->lang].n[2];
}

/* The content of a text (all slots but the opener), never 0. */
static uint64_t combo_key(const struct combo *c)
{
    uint64_t k = (uint64_t)c->lang + 1;
    for (int s = 1; s < NSLOT; s++)
        k = k << 8 | c->part[s];
    return k;
}

struct text {
    char s[1024];
    size_t n;
};

static void put(struct text *t, const char *s)
{
    size_t len = strlen(s);
    if (t->n + len < sizeof t->s) {
        memcpy(t->s + t->n, s, len);
        t->n += len;
        t->s[t->n] = '\0';
    }
}

/* Digits, full-width (U+FF10..) when wide: NFKC folds them back. */
static void put_digits(struct text *t, unsigned long long v, int width, int wide)
{
    char d[32];
    snprintf(d, sizeof d, "%0*llu", width, v);
    for (const char *p = d; *p; p++) {
        if (wide) {
            char w[4] = {(char)0xef, (char)0xbc, (char)(0x90 + (*p - '0')), '\0'};
            put(t, w);
        } else {
            char c[2] = {*p, '\0'};
            put(t, c);
        }
    }
}

static void put_template(struct text *t, const char *tmpl, uint64_t *rng, int wide)
{
    static const char *const id_prefix[] = {"DD", "A", "XS-", "", "KC"};
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{N}", 3) == 0) {
            put_digits(t, 4ULL + (unsigned long long)rng_below(rng, 56), 1, wide);
            p += 3;
        } else if (strncmp(p, "{ID}", 4) == 0) {
            put(t, id_prefix[rng_below(rng, COUNT(id_prefix))]);
            put_digits(t, rng_next(rng) % 10000000000ull, 10, 0);
            p += 4;
        } else if (strncmp(p, "{PHONE}", 7) == 0) {
            put(t, "1");
            put_digits(t, 3ULL + (unsigned long long)rng_below(rng, 7), 1, 0);
            put_digits(t, rng_next(rng) % 1000000000ull, 9, 0);
            p += 7;
        } else {
            char c[2] = {*p++, '\0'};
            put(t, c);
        }
    }
}

/* Renders a combination with fresh numbers, ids, punctuation, digit width and
 * letter case: two renderings of one combination are one complaint. */
static void render(const struct combo *c, uint64_t *rng, struct text *t)
{
    const struct lang *l = &langs[c->lang];
    const char *sep = l->sep[rng_below(rng, l->nsep)];
    int wide = l->cjk && rng_below(rng, 4) == 0;
    int space = l->cjk && rng_below(rng, 3) == 0;
    const char *open = l->slot[0][c->part[0]], *detail = l->slot[3][c->part[3]];
    const char *request = l->slot[5][c->part[5]];
    t->n = 0;
    t->s[0] = '\0';
    put(t, open);
    if (*open && (!l->cjk || space))
        put(t, " ");
    put_template(t, l->slot[1][c->part[1]], rng, wide);
    put(t, l->cjk ? (space ? " " : "") : (rng_below(rng, 2) ? ": " : ", "));
    put(t, l->slot[2][c->part[2]]);
    if (*detail) {
        put(t, l->cjk ? sep : " ");
        put_template(t, detail, rng, wide);
    }
    put(t, sep);
    put(t, l->slot[4][c->part[4]]);
    if (*request) {
        put(t, sep);
        put_template(t, request, rng, wide);
    }
    put(t, l->end[rng_below(rng, l->nend)]);
    if (!l->cjk) {
        int upper = rng_below(rng, 8);
        for (char *p = t->s; *p; p++)
            if (*p >= 'a' && *p <= 'z' && (upper == 0 || (upper < 4 && p == t->s)))
                *p = (char)(*p - 'a' + 'A');
    }
}

static void random_combo(uint64_t *rng, int lang, struct combo *c)
{
    c->lang = (uint8_t)lang;
    for (int s = 0; s < NSLOT; s++)
        c->part[s] = (uint8_t)rng_below(rng, langs[lang].n[s]);
}

/* Open-addressing set of combo keys. */
struct keyset {
    uint64_t *slot;
    size_t mask;
};

static int keyset_has(const struct keyset *ks, uint64_t key)
{
    for (size_t i = (size_t)(key * 0x9e3779b97f4a7c15u) & ks->mask; ks->slot[i];
         i = (i + 1) & ks->mask)
        if (ks->slot[i] == key)
            return 1;
    return 0;
}

static void keyset_add(struct keyset *ks, uint64_t key)
{
    size_t i = (size_t)(key * 0x9e3779b97f4a7c15u) & ks->mask;
    while (ks->slot[i] && ks->slot[i] != key)
        i = (i + 1) & ks->mask;
    ks->slot[i] = key;
}

/* A new complaint: no item shares four of its five content phrases (a text
 * one phrase away from an item is arguably the same complaint). */
static int is_new(const struct keyset *items, const struct combo *c)
{
    struct combo v = *c;
    for (int s = 1; s < NSLOT; s++) {
        for (int alt = 0; alt < langs[c->lang].n[s]; alt++) {
            v.part[s] = (uint8_t)alt;
            if (keyset_has(items, combo_key(&v)))
                return 0;
        }
        v.part[s] = c->part[s];
    }
    return 1;
}

/* ---- database and failures ------------------------------------------------- */

static PGconn *admin, *db;
static char dbname[64];
static int created;

static void drop_database(void)
{
    PQfinish(db);
    db = NULL;
    if (admin && created) {
        char sql[128], err[512];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
        if (voc_db_exec(admin, sql, NULL, err, sizeof err) < 0)
            fprintf(stderr, "match_pg_bench: could not drop database %s: %s\n", dbname, err);
        created = 0;
    }
    PQfinish(admin);
    admin = NULL;
}

static _Noreturn __attribute__((format(printf, 1, 2))) void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "match_pg_bench: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    drop_database();
    exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        die("out of memory");
    return p;
}

/* The error of a result, on one line. */
static const char *result_error(const PGresult *r)
{
    static char msg[1024];
    snprintf(msg, sizeof msg, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(db));
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = *(p + 1) ? ' ' : '\0';
    return msg;
}

static void exec_or_die(PGconn *conn, const char *sql, const char *what)
{
    char err[1024];
    if (voc_db_exec(conn, sql, NULL, err, sizeof err) < 0)
        die("%s: %s", what, err);
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void print_loadavg(const char *when)
{
    char buf[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            snprintf(buf, sizeof buf, "?");
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = '\0';
    printf("load average %s: %s\n", when, buf);
}

/* ---- loading items ---------------------------------------------------------- */

/* Masked, normalised, signed: the path of voc-ingest then voc-aggregate.
 * Returns the masked text (what the service stores), or NULL. */
static char *sign_text(struct voc_textnorm *tn, const struct text *t, struct voc_signature *sig)
{
    size_t len = 0;
    char *masked = voc_pii_mask(t->s, t->n, &len, NULL);
    char *norm = masked ? voc_textnorm_apply(tn, masked, len, &len) : NULL;
    int rc = norm ? voc_match_signature(norm, sig) : -1;
    free(norm);
    if (rc < 0 || sig->empty) {
        free(masked);
        return NULL;
    }
    return masked;
}

/* The band array literal, built as match_text() builds it. */
static void band_list(const struct voc_signature *sig, char *list, size_t cap)
{
    int64_t bands[VOC_MATCH_BANDS];
    size_t o = 0;
    voc_match_bands(sig, bands);
    list[o++] = '{';
    for (int b = 0; b < VOC_MATCH_BANDS; b++)
        o += (size_t)snprintf(list + o, cap - o, "%s%lld", b ? "," : "", (long long)bands[b]);
    snprintf(list + o, cap - o, "}");
}

struct copybuf {
    char s[1 << 16];
    size_t n;
};

static void copy_flush(struct copybuf *cb)
{
    if (cb->n && PQputCopyData(db, cb->s, (int)cb->n) != 1)
        die("COPY: %s", PQerrorMessage(db));
    cb->n = 0;
}

static void copy_put(struct copybuf *cb, const char *s, size_t len)
{
    if (cb->n + len > sizeof cb->s)
        copy_flush(cb);
    memcpy(cb->s + cb->n, s, len);
    cb->n += len;
}

/* COPY text format: backslash, tab, newline and carriage return escaped. */
static void copy_text(struct copybuf *cb, const char *s)
{
    for (; *s; s++) {
        const char *e = *s == '\\'   ? "\\\\"
                        : *s == '\t' ? "\\t"
                        : *s == '\n' ? "\\n"
                        : *s == '\r' ? "\\r"
                                     : NULL;
        if (e)
            copy_put(cb, e, 2);
        else
            copy_put(cb, s, 1);
    }
}

static void copy_item(struct copybuf *cb, size_t seq, int category, const char *text,
                      const struct voc_signature *sig, int day)
{
    unsigned char raw[SIG_BYTES];
    char head[64], hex[SIG_BYTES * 2 + 8], list[VOC_MATCH_BANDS * 24 + 4], tail[64];
    voc_match_sig_pack(sig, raw);
    /* bytea hex input, its backslash escaped for COPY: \\x, then the digits */
    hex[0] = '\\';
    hex[1] = '\\';
    hex[2] = 'x';
    for (size_t i = 0; i < SIG_BYTES; i++)
        snprintf(hex + 3 + 2 * i, 3, "%02x", raw[i]);
    band_list(sig, list, sizeof list);
    int n = snprintf(head, sizeof head, "%zu\t%s\t", seq, categories[category]);
    copy_put(cb, head, (size_t)n);
    copy_text(cb, text);
    copy_put(cb, "\t", 1);
    copy_put(cb, hex, strlen(hex));
    copy_put(cb, "\t", 1);
    copy_put(cb, list, strlen(list));
    n = snprintf(tail, sizeof tail, "\t2026-10-%02d %02d:%02d:00+08\n", 1 + day % 30,
                 (int)(seq % 24), (int)(seq % 60));
    copy_put(cb, tail, (size_t)n);
}

struct item {
    struct combo c;
    char *text; /* masked */
};

static void load_items(struct voc_textnorm *tn, struct item *items, size_t n, struct keyset *keys)
{
    exec_or_die(db,
                "CREATE TEMP TABLE bench_stage (seq bigint, category text, text text,"
                " sig bytea, bands bigint[], first_seen timestamptz)",
                "create staging table");
    PGresult *r = PQexec(db, "COPY bench_stage FROM STDIN");
    if (PQresultStatus(r) != PGRES_COPY_IN)
        die("COPY: %s", result_error(r));
    PQclear(r);
    struct copybuf *cb = xcalloc(1, sizeof *cb);
    uint64_t rng = 1;
    double t0 = now_us(), sign_us = 0;
    for (size_t i = 0; i < n; i++) {
        struct combo c;
        do /* a quarter English; every item a different complaint */
            random_combo(&rng, rng_below(&rng, 4) == 0, &c);
        while (keyset_has(keys, combo_key(&c)));
        keyset_add(keys, combo_key(&c));
        struct text t;
        struct voc_signature sig;
        render(&c, &rng, &t);
        double s0 = now_us();
        char *masked = sign_text(tn, &t, &sig);
        sign_us += now_us() - s0;
        if (!masked)
            die("cannot sign generated text \"%s\"", t.s);
        items[i] = (struct item){c, masked};
        copy_item(cb, i + 1, category_of(&c), masked, &sig, (int)(rng % 30));
    }
    copy_flush(cb);
    free(cb);
    if (PQputCopyEnd(db, NULL) != 1)
        die("COPY: %s", PQerrorMessage(db));
    r = PQgetResult(db);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die("COPY: %s", result_error(r));
    PQclear(r);
    while ((r = PQgetResult(db)))
        PQclear(r);
    double t1 = now_us();
    /* Rows as itemdb_open() writes them for a text-born item; ids = seq. */
    exec_or_die(db,
                "INSERT INTO voc.item (id, fingerprint, dimension, category, entity, title,"
                " severity, department, owner, notify, routing_rule, routing_version, match_rule,"
                " match_version, signatures, occurrences, customers, first_seen, last_seen,"
                " samples) OVERRIDING SYSTEM VALUE"
                " SELECT seq, 'm1:text:" DIMENSION ":' || category || ':bench-' || seq,"
                " '" DIMENSION "', category, NULL, left(text, 80), 'medium', 'teaching',"
                " 'teaching-lead', 'teaching-chat', 'bench', 'bench', 'minhash:m1', 'm1', sig,"
                " 1, 1, first_seen, first_seen, jsonb_build_array(text) FROM bench_stage",
                "insert items");
    exec_or_die(db,
                "INSERT INTO voc.item_band (item_id, band, hash) SELECT s.seq, u.band - 1, u.hash"
                " FROM bench_stage s, unnest(s.bands) WITH ORDINALITY AS u(hash, band)",
                "insert bands");
    exec_or_die(db,
                "SELECT setval(pg_get_serial_sequence('voc.item', 'id'),"
                " (SELECT coalesce(max(id), 0) + 1 FROM voc.item), false)",
                "set item id sequence");
    exec_or_die(db, "DROP TABLE bench_stage", "drop staging table");
    double t2 = now_us();
    /* VACUUM as well: hint bits and the visibility map set, as on a database
     * that has been running, and no autovacuum of the fresh rows mid-run. */
    exec_or_die(db, "VACUUM (ANALYZE)", "VACUUM (ANALYZE)");
    double t3 = now_us();
    printf("load: %zu items generated, signed and copied %.1f s (signing %.1f us/text),"
           " insert items + %zu band rows %.1f s, VACUUM (ANALYZE) %.1f s\n",
           n, (t1 - t0) / 1e6, n ? sign_us / (double)n : 0.0, n * VOC_MATCH_BANDS, (t2 - t1) / 1e6,
           (t3 - t2) / 1e6);
}

/* ---- lookups ---------------------------------------------------------------- */

struct query {
    struct voc_signature sig;
    int category, english;
    long long source; /* item id of a near-copy, 0 for a new text */
    char *text;
};

/* As member_similarity() in itemdb.c: the best similarity to a member. */
static double member_similarity(const struct voc_signature *sig, const unsigned char *raw,
                                size_t len)
{
    double best = 0;
    struct voc_signature m;
    for (size_t off = 0; off + SIG_BYTES <= len; off += SIG_BYTES) {
        if (voc_match_sig_unpack(raw + off, SIG_BYTES, &m) == 0) {
            double s = voc_match_similarity(sig, &m);
            if (s > best)
                best = s;
        }
    }
    return best;
}

static void make_queries(struct voc_textnorm *tn, const struct item *items, size_t nitems,
                         const struct keyset *keys, struct query *q, size_t nq)
{
    uint64_t rng = 42;
    for (size_t i = 0; i < nq; i++) {
        struct combo c;
        long long source = 0;
        if (i % 2 == 0) {
            size_t j = (size_t)(rng_next(&rng) % nitems);
            c = items[j].c;
            source = (long long)j + 1;
        } else {
            int lang = rng_below(&rng, 4) == 0, tries = 0;
            do {
                if (++tries > 100000)
                    die("no new text left in the phrase space after %zu items: use fewer items",
                        nitems);
                random_combo(&rng, lang, &c);
            } while (!is_new(keys, &c));
        }
        struct text t;
        render(&c, &rng, &t);
        q[i].text = sign_text(tn, &t, &q[i].sig);
        if (!q[i].text)
            die("cannot sign generated text \"%s\"", t.s);
        q[i].category = category_of(&c);
        q[i].english = c.lang == 1;
        q[i].source = source;
    }
}

/* The figures of the run, printed last on one line for scripts. */
static struct summary {
    double stmt_p50, stmt_p99, total_p50, total_p99, candidates, recall, won;
    long false_merges;
    double plan_p50, exec_p50, band_matches;
} res;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n ? v[(size_t)(p * (double)(n - 1) + 0.5)] : 0.0;
}

/* Runs the lookup of query q; returns the result (caller clears). */
static PGresult *lookup(const struct query *q, const char *prefix_sql)
{
    char list[VOC_MATCH_BANDS * 24 + 4];
    band_list(&q->sig, list, sizeof list);
    const char *vals[] = {list, DIMENSION, categories[q->category], OCCURRED_AT, WINDOW_H};
    return PQexecParams(db, prefix_sql, 5, NULL, vals, NULL, NULL, 0);
}

/* Runs a one-value query with at most one parameter; copies the value. */
static void scalar(const char *sql, const char *param, char *out, size_t outlen)
{
    const char *vals[] = {param};
    PGresult *r = PQexecParams(db, sql, param ? 1 : 0, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        die("%s: %s", sql, result_error(r));
    snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

/* Items sharing a band with the query in any category: what the index
 * returns and the heap is visited for, before the category filter. */
static double band_matches(const struct query *q, size_t n)
{
    long sum = 0;
    for (size_t i = 0; i < n; i++) {
        char list[VOC_MATCH_BANDS * 24 + 4], count[32];
        band_list(&q[i].sig, list, sizeof list);
        scalar("SELECT count(DISTINCT b.item_id) FROM voc.item_band b,"
               " unnest($1::bigint[]) WITH ORDINALITY AS u(hash, band)"
               " WHERE b.band = u.band - 1 AND b.hash = u.hash",
               list, count, sizeof count);
        sum += atol(count);
    }
    return n ? (double)sum / (double)n : 0.0;
}

/* The round trip of a trivial parameterised statement: the floor under
 * every lookup (client, socket, parse, plan, wake-ups). */
static double round_trip_p50(size_t n)
{
    double *t = xcalloc(n, sizeof *t);
    const char *vals[] = {"1"};
    for (size_t i = 0; i < n; i++) {
        double t0 = now_us();
        PGresult *r = PQexecParams(db, "SELECT $1::int", 1, NULL, vals, NULL, NULL, 0);
        t[i] = now_us() - t0;
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            die("SELECT $1::int: %s", result_error(r));
        PQclear(r);
    }
    double p50 = pct(t, n, 0.5);
    free(t);
    return p50;
}

static void run_lookups(const struct query *q, size_t nq, const struct item *items)
{
    double *stmt = xcalloc(nq, sizeof *stmt), *total = xcalloc(nq, sizeof *total);
    double *stmt_new = xcalloc(nq, sizeof *stmt_new), *stmt_copy = xcalloc(nq, sizeof *stmt_copy);
    size_t nnew = 0, ncopy = 0;
    long rows_copy = 0, rows_new = 0, found = 0, won = 0, merged = 0, zero_rows = 0;
    long lang_q[2] = {0, 0}, lang_rows[2] = {0, 0}, lang_merged[2] = {0, 0};
    double commit_us = 0, stmt_sum = 0;
    char wal0[64];
    scalar("SELECT pg_current_wal_lsn()", NULL, wal0, sizeof wal0);
    double t_start = now_us();
    int shown = 0;
    for (size_t i = 0; i < nq; i++) {
        if (i % BATCH == 0)
            exec_or_die(db, "BEGIN", "BEGIN");
        double t0 = now_us();
        PGresult *r = lookup(&q[i], MATCH_TEXT_SQL);
        double t1 = now_us();
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            die("lookup %zu: %s", i, result_error(r));
        int nrows = PQntuples(r), best = -1, has_source = 0;
        double best_sim = 0;
        for (int row = 0; row < nrows; row++) {
            size_t len;
            unsigned char *raw =
                PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, 2), &len);
            if (!raw)
                continue;
            double s = member_similarity(&q[i].sig, raw, len);
            PQfreemem(raw);
            /* Every item is live here, so the service's choice is the best. */
            if (s >= THRESHOLD && (best < 0 || s > best_sim)) {
                best = row;
                best_sim = s;
            }
            has_source |= q[i].source && atoll(PQgetvalue(r, row, 0)) == q[i].source;
        }
        long long best_id = best >= 0 ? atoll(PQgetvalue(r, best, 0)) : 0;
        double t2 = now_us();
        stmt[i] = t1 - t0;
        total[i] = t2 - t0;
        zero_rows += nrows == 0;
        lang_q[q[i].english]++;
        lang_rows[q[i].english] += nrows;
        if (q[i].source) {
            stmt_copy[ncopy++] = t1 - t0;
            rows_copy += nrows;
            found += has_source;
            won += best_id == q[i].source;
        } else {
            stmt_new[nnew++] = t1 - t0;
            rows_new += nrows;
            if (best >= 0) {
                merged++;
                lang_merged[q[i].english]++;
                if (shown++ < EXAMPLES)
                    printf("false merge (%.3f): \"%s\" ~ item %lld \"%s\"\n", best_sim, q[i].text,
                           best_id, items[best_id - 1].text);
            }
        }
        PQclear(r);
        if (i % BATCH == BATCH - 1 || i == nq - 1) {
            double c0 = now_us();
            exec_or_die(db, "COMMIT", "COMMIT");
            commit_us += now_us() - c0;
        }
    }
    double wall = (now_us() - t_start) / 1e6;
    char wal[64];
    scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)", wal0, wal, sizeof wal);
    for (size_t i = 0; i < nq; i++)
        stmt_sum += stmt[i];
    double sp50 = pct(stmt, nq, 0.5), sp99 = pct(stmt, nq, 0.99);
    double tp50 = pct(total, nq, 0.5), tp99 = pct(total, nq, 0.99);
    printf("lookups: %zu (%zu near-copies, %zu new texts), %d per transaction, %.1f s in all\n", nq,
           ncopy, nnew, BATCH, wall);
    printf("  statement us       p50 %.0f  p99 %.0f  (near-copies p50 %.0f, new texts p50 %.0f)\n",
           sp50, sp99, pct(stmt_copy, ncopy, 0.5), pct(stmt_new, nnew, 0.5));
    printf("  statement us mean %.0f; COMMIT of %d lookups' row locks, ms mean %.1f; WAL %.0f "
           "bytes per lookup\n",
           stmt_sum / (double)nq, BATCH, commit_us / 1e3 / ceil((double)nq / BATCH),
           atof(wal) / (double)nq);
    printf("  round trip of SELECT $1::int, us p50 %.0f\n", round_trip_p50(2000));
    printf("  + similarities us  p50 %.0f  p99 %.0f\n", tp50, tp99);
    printf("  candidate rows per lookup %.2f (near-copies %.2f, new texts %.2f); none: %.1f%%\n",
           (double)(rows_copy + rows_new) / (double)nq,
           ncopy ? (double)rows_copy / (double)ncopy : 0.0,
           nnew ? (double)rows_new / (double)nnew : 0.0, 100.0 * (double)zero_rows / (double)nq);
    printf("  near-copies: item among candidates %.2f%%, item won at %.2f %.2f%%\n",
           ncopy ? 100.0 * (double)found / (double)ncopy : 0.0, THRESHOLD,
           ncopy ? 100.0 * (double)won / (double)ncopy : 0.0);
    printf("  new texts matched >= %.2f (false merges): %ld of %zu\n", THRESHOLD, merged, nnew);
    for (int l = 0; l < 2; l++)
        printf("  %s: %ld lookups, %.2f candidate rows per lookup, %ld false merges\n",
               l ? "English" : "Chinese", lang_q[l],
               lang_q[l] ? (double)lang_rows[l] / (double)lang_q[l] : 0.0, lang_merged[l]);
    res.stmt_p50 = sp50;
    res.stmt_p99 = sp99;
    res.total_p50 = tp50;
    res.total_p99 = tp99;
    res.candidates = (double)(rows_copy + rows_new) / (double)nq;
    res.recall = ncopy ? (double)found / (double)ncopy : 0.0;
    res.won = ncopy ? (double)won / (double)ncopy : 0.0;
    res.false_merges = merged;
    free(stmt);
    free(total);
    free(stmt_new);
    free(stmt_copy);
}

/* Where the time of a lookup goes on the server: planning and execution as
 * EXPLAIN ANALYZE reports them, medians over n lookups (rolled back). */
static void server_split(const struct query *q, size_t n)
{
    double *plan = xcalloc(n, sizeof *plan), *exec = xcalloc(n, sizeof *exec);
    exec_or_die(db, "BEGIN", "BEGIN");
    for (size_t i = 0; i < n; i++) {
        PGresult *r = lookup(&q[i], "EXPLAIN (ANALYZE) " MATCH_TEXT_SQL);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            die("EXPLAIN: %s", result_error(r));
        for (int row = 0; row < PQntuples(r); row++) {
            const char *line = PQgetvalue(r, row, 0), *p;
            if ((p = strstr(line, "Planning Time: ")))
                plan[i] = 1000 * atof(p + 15);
            if ((p = strstr(line, "Execution Time: ")))
                exec[i] = 1000 * atof(p + 16);
        }
        PQclear(r);
    }
    exec_or_die(db, "ROLLBACK", "ROLLBACK");
    res.plan_p50 = pct(plan, n, 0.5);
    res.exec_p50 = pct(exec, n, 0.5);
    printf("  server side, EXPLAIN ANALYZE of %zu lookups, us p50: planning %.0f, execution %.0f\n",
           n, res.plan_p50, res.exec_p50);
    free(plan);
    free(exec);
}

/* The plan of one near-copy lookup, run for real (and rolled back). */
static void explain(const struct query *q)
{
    exec_or_die(db, "BEGIN", "BEGIN");
    PGresult *r = lookup(q, "EXPLAIN (ANALYZE, BUFFERS) " MATCH_TEXT_SQL);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die("EXPLAIN: %s", result_error(r));
    int uses_index = 0, scans_item = 0;
    printf("plan of one near-copy lookup:\n");
    for (int row = 0; row < PQntuples(r); row++) {
        const char *line = PQgetvalue(r, row, 0);
        printf("  %s\n", line);
        uses_index |= strstr(line, "item_band_lookup_idx") != NULL;
        scans_item |= strstr(line, "Seq Scan on item ") != NULL ||
                      strstr(line, "Seq Scan on item_band ") != NULL;
    }
    PQclear(r);
    exec_or_die(db, "ROLLBACK", "ROLLBACK");
    printf("plan uses item_band_lookup_idx: %s; sequential scan of voc.item or voc.item_band: %s\n",
           uses_index ? "yes" : "NO", scans_item ? "YES" : "no");
}

int main(int argc, char **argv)
{
    char *end = NULL;
    long long nitems = argc > 1 ? strtoll(argv[1], &end, 10) : 100000;
    int bad = argc > 3 || nitems < 1 || (end && *end);
    end = NULL;
    long long nq = argc > 2 ? strtoll(argv[2], &end, 10) : 20000;
    bad |= nq < 2 || (end && *end);
    if (bad) {
        fprintf(stderr, "usage: match_pg_bench [ITEMS (default 100000)] [QUERIES (default "
                        "20000)]\nConnects with the PG* environment, e.g. under pg_virtualenv.\n");
        return 2;
    }
    char err[1024];
    struct voc_textnorm *tn = voc_textnorm_new(err, sizeof err);
    if (!tn)
        die("%s", err);
    admin = voc_db_connect("", "match_pg_bench", err, sizeof err);
    if (!admin)
        die("cannot connect with the PG* environment (run under pg_virtualenv?): %s", err);
    /* An identifier cannot be a parameter; this one is made of digits only. */
    snprintf(dbname, sizeof dbname, "bench_match_%ld", (long)getpid());
    char sql[128], dsn[96];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
    exec_or_die(admin, sql, "create database");
    created = 1;
    snprintf(dsn, sizeof dsn, "dbname=%s", dbname);
    db = voc_db_connect(dsn, "match_pg_bench", err, sizeof err);
    if (!db)
        die("cannot connect to %s: %s", dbname, err);
    int applied = 0;
    if (voc_db_migrate(db, voc_db_sql_dir(), &applied, err, sizeof err) < 0)
        die("migrations from %s: %s", voc_db_sql_dir(), err);
    int version = PQserverVersion(db);
    printf("match_pg_bench: %lld items, %lld lookups, PostgreSQL %d.%d on %s, database %s (%d "
           "migrations)\n",
           nitems, nq, version / 10000, version % 10000, PQhost(db), dbname, applied);
    PGresult *r = PQexec(db, "SELECT current_setting('fsync'), current_setting('shared_buffers')");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die("settings: %s", result_error(r));
    printf("fsync=%s shared_buffers=%s\n", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
    PQclear(r);
    print_loadavg("at start");

    struct item *items = xcalloc((size_t)nitems, sizeof *items);
    struct query *q = xcalloc((size_t)nq, sizeof *q);
    struct keyset keys = {0};
    size_t cap = 1;
    while (cap < 4 * (size_t)nitems)
        cap <<= 1;
    keys.slot = xcalloc(cap, sizeof *keys.slot);
    keys.mask = cap - 1;
    load_items(tn, items, (size_t)nitems, &keys);
    double t0 = now_us();
    make_queries(tn, items, (size_t)nitems, &keys, q, (size_t)nq);
    printf("queries generated and signed in %.1f s\n", (now_us() - t0) / 1e6);
    voc_textnorm_free(tn);
    run_lookups(q, (size_t)nq, items);
    size_t sample = nq < 1000 ? (size_t)nq : 1000;
    res.band_matches = band_matches(q, sample);
    printf("  items sharing a band in any category (index hits, heap visits), per lookup over %zu:"
           " %.1f\n",
           sample, res.band_matches);
    server_split(q, sample);
    explain(&q[0]);
    print_loadavg("at end");
    printf("RESULT items=%lld stmt_p50=%.0f stmt_p99=%.0f total_p50=%.0f total_p99=%.0f"
           " candidates=%.2f recall=%.4f won=%.4f false_merges=%ld plan_p50=%.0f exec_p50=%.0f"
           " band_matches=%.1f\n",
           nitems, res.stmt_p50, res.stmt_p99, res.total_p50, res.total_p99, res.candidates,
           res.recall, res.won, res.false_merges, res.plan_p50, res.exec_p50, res.band_matches);

    for (long long i = 0; i < nitems; i++)
        free(items[i].text);
    for (long long i = 0; i < nq; i++)
        free(q[i].text);
    free(items);
    free(q);
    free(keys.slot);
    drop_database();
    return 0;
}
