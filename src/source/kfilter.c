/*
 * kfilter.c - plans and applies the all-or-nothing switch of the kernel
 * filter maps to a config's sets; see kfilter.h for the scheme.
 */
#include "kfilter.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

static const struct {
	const char *map, *key, *limit;
	size_t key_size, max;
} kfilter_sets[KF_NSETS] = {
	[KF_PIDS] = { "pid_allow", "pids", "HT_PIDS_MAX", sizeof(struct ht_pid_key), HT_PIDS_MAX },
	[KF_PORTS] = { "deny_ports", "excludePorts", "HT_PORTS_MAX", sizeof(struct ht_port_key),
		       HT_PORTS_MAX },
	[KF_PATHS] = { "health_paths", "healthCheckPaths", "HT_HEALTH_PATHS_MAX",
		       sizeof(struct ht_path_key), HT_HEALTH_PATHS_MAX },
};

size_t kfilter_key_size(enum kfilter_set set)
{
	return kfilter_sets[set].key_size;
}

const char *kfilter_map_name(enum kfilter_set set)
{
	return kfilter_sets[set].map;
}

/* Generation of a key: the first member of every key struct. */
static uint32_t key_gen(enum kfilter_set set, const union kfilter_key *k)
{
	return set == KF_PORTS ? k->port.gen : set == KF_PIDS ? k->pid.gen : k->path.gen;
}

static uint32_t *set_count(struct ht_filter_n *n, enum kfilter_set set)
{
	return set == KF_PIDS ? &n->pids : set == KF_PORTS ? &n->ports : &n->paths;
}

static int plan_push(struct kfilter_plan *p, uint8_t kind, enum kfilter_set set,
		     const union kfilter_key *k)
{
	struct kfilter_op *op;

	if (p->n_ops == p->cap_ops) {
		size_t cap = p->cap_ops ? 2 * p->cap_ops : 64;

		op = realloc(p->ops, cap * sizeof(*op));
		if (!op)
			return -ENOMEM;
		p->ops = op;
		p->cap_ops = cap;
	}
	op = &p->ops[p->n_ops++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->set = (uint8_t)set;
	if (k)
		memcpy(&op->key, k, kfilter_key_size(set));
	return 0;
}

/* Whether an ADD of k is already planned (configs built by hand may repeat
 * an entry: one map entry, counted once). */
static bool plan_has_add(const struct kfilter_plan *p, enum kfilter_set set,
			 const union kfilter_key *k)
{
	for (size_t i = 0; i < p->n_ops; i++)
		if (p->ops[i].kind == KF_OP_ADD && p->ops[i].set == set &&
		    !memcmp(&p->ops[i].key, k, kfilter_key_size(set)))
			return true;
	return false;
}

/* Plans an ADD of k unless planned already; checks the set's limit. */
static int plan_add(struct kfilter_plan *p, enum kfilter_set set, const union kfilter_key *k,
		    char *err, size_t errlen)
{
	uint32_t *n = set_count(&p->n, set);

	if (plan_has_add(p, set, k))
		return 0;
	if (*n >= kfilter_sets[set].max) {
		snprintf(err, errlen, "more than %zu entries in filtering.kernel.%s: the kernel map %s holds %zu per config (%s)",
			 kfilter_sets[set].max, kfilter_sets[set].key, kfilter_sets[set].map,
			 kfilter_sets[set].max, kfilter_sets[set].limit);
		return -E2BIG;
	}
	(*n)++;
	return plan_push(p, KF_OP_ADD, set, k);
}

struct stale_arg {
	struct kfilter_plan *p;
	enum kfilter_set set;
};

/* each_key callback: plans the deletion of keys of the inactive generation. */
static int plan_stale(void *arg, const union kfilter_key *k)
{
	struct stale_arg *a = arg;

	if (key_gen(a->set, k) != a->p->gen)
		return 0;
	return plan_push(a->p, KF_OP_DEL, a->set, k);
}

static int plan_numbers(struct kfilter_plan *p, const struct ht_config *cfg, char *err,
			size_t errlen)
{
	union kfilter_key k;
	int rc = 0;

	for (size_t i = 0; !rc && i < cfg->n_pids; i++) {
		memset(&k, 0, sizeof(k));
		k.pid.gen = p->gen;
		k.pid.tgid = cfg->pids[i];
		rc = plan_add(p, KF_PIDS, &k, err, errlen);
	}
	for (size_t i = 0; !rc && i < cfg->n_exclude_ports; i++) {
		memset(&k, 0, sizeof(k));
		k.port.gen = (uint16_t)p->gen;
		k.port.port = cfg->exclude_ports[i];
		rc = plan_add(p, KF_PORTS, &k, err, errlen);
	}
	return rc;
}

static int plan_paths(struct kfilter_plan *p, const struct ht_config *cfg, char *err,
		      size_t errlen)
{
	union kfilter_key k;
	int rc = 0;

	for (size_t i = 0; !rc && i < cfg->health_paths.n; i++) {
		const char *s = cfg->health_paths.v[i];
		size_t len = s ? strlen(s) : 0;

		if (!len || len > HT_HEALTH_PATH_LEN_MAX) {
			snprintf(err, errlen, "healthCheckPaths entry '%.*s' does not fit the kernel's path key: 1..%d bytes (HT_HEALTH_PATH_LEN_MAX)",
				 HT_HEALTH_PATH_LEN_MAX + 1, s ? s : "", HT_HEALTH_PATH_LEN_MAX);
			return -EINVAL;
		}
		memset(&k, 0, sizeof(k));
		k.path.gen = p->gen;
		memcpy(k.path.path, s, len);
		rc = plan_add(p, KF_PATHS, &k, err, errlen);
	}
	return rc;
}

int kfilter_plan(struct kfilter_plan *p, const struct kfilter_ops *o, void *ctx,
		 const struct ht_config *cfg, char *err, size_t errlen)
{
	int rc = 0;

	memset(p, 0, sizeof(*p));
	p->gen = (o->active(ctx) & 1) ^ 1;
	for (int set = 0; !rc && set < KF_NSETS; set++) {
		struct stale_arg a = { p, (enum kfilter_set)set };

		rc = o->each_key(ctx, (enum kfilter_set)set, plan_stale, &a);
		if (rc)
			snprintf(err, errlen, "cannot list the kernel map %s: %s",
				 kfilter_map_name((enum kfilter_set)set), strerror(-rc));
	}
	if (!rc && cfg)
		rc = plan_numbers(p, cfg, err, errlen);
	if (!rc && cfg)
		rc = plan_paths(p, cfg, err, errlen);
	rc = rc ?: plan_push(p, KF_OP_COMMIT, KF_PIDS, NULL);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory while planning the kernel filter update");
	if (rc)
		kfilter_plan_free(p);
	return rc;
}

/* "pid 42", "port 8080", "path '/healthz'". */
static void describe_key(const struct kfilter_op *op, char *buf, size_t len)
{
	if (op->set == KF_PIDS)
		snprintf(buf, len, "pid %u", op->key.pid.tgid);
	else if (op->set == KF_PORTS)
		snprintf(buf, len, "port %u", op->key.port.port);
	else
		snprintf(buf, len, "path '%.*s'", HT_PATH_MAX, op->key.path.path);
}

static void describe_failure(const struct kfilter_plan *p, size_t i, int rc, char *err,
			     size_t errlen)
{
	const struct kfilter_op *op = &p->ops[i];
	char what[HT_PATH_MAX + 16];

	if (op->kind == KF_OP_COMMIT) {
		snprintf(err, errlen, "cannot switch the kernel filters to generation %u (step %zu of %zu): %s",
			 p->gen, i + 1, p->n_ops, strerror(-rc));
		return;
	}
	describe_key(op, what, sizeof(what));
	snprintf(err, errlen, "cannot %s %s %s the kernel map %s (step %zu of %zu): %s",
		 op->kind == KF_OP_ADD ? "add" : "delete the stale", what,
		 op->kind == KF_OP_ADD ? "to" : "from", kfilter_map_name((enum kfilter_set)op->set),
		 i + 1, p->n_ops, strerror(-rc));
}

int kfilter_apply(const struct kfilter_plan *p, const struct kfilter_ops *o, void *ctx,
		  char *err, size_t errlen)
{
	for (size_t i = 0; i < p->n_ops; i++) {
		const struct kfilter_op *op = &p->ops[i];
		enum kfilter_set set = (enum kfilter_set)op->set;
		int rc;

		if (op->kind == KF_OP_DEL) {
			rc = o->del(ctx, set, &op->key);
			rc = rc == -ENOENT ? 0 : rc;
		} else if (op->kind == KF_OP_ADD) {
			rc = o->add(ctx, set, &op->key);
		} else {
			rc = o->commit(ctx, p->gen, &p->n);
		}
		if (rc) {
			describe_failure(p, i, rc < 0 ? rc : -EIO, err, errlen);
			return rc < 0 ? rc : -EIO;
		}
	}
	return 0;
}

void kfilter_plan_free(struct kfilter_plan *p)
{
	free(p->ops);
	p->ops = NULL;
	p->n_ops = p->cap_ops = 0;
}

int kfilter_switch(const struct kfilter_ops *o, void *ctx, const struct ht_config *cfg,
		   char *err, size_t errlen)
{
	struct kfilter_plan p;
	int rc = kfilter_plan(&p, o, ctx, cfg, err, errlen);

	if (rc)
		return rc;
	rc = kfilter_apply(&p, o, ctx, err, errlen);
	kfilter_plan_free(&p);
	return rc;
}
