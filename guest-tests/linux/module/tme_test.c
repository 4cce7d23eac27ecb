// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A test module for TME/MKTME in a QEMU guest: PCONFIG on a real kernel,
 * pages mapped with KeyIDs in their page table entries, a KeyID mapping
 * kept hot on one CPU while another CPU writes the page through another
 * KeyID, then the same KeyIDs programmed from every online CPU at once.
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * It prints its results with the prefix "tme-test: " for the host-side
 * test to check.
 */

#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/slab.h>
#include <linux/delay.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>
#include <asm/cpufeature.h>
#include <asm/msr.h>

#define MSR_IA32_TME_ACTIVATE   0x982

#define CMD_DIRECT              0
#define CMD_RANDOM              1
#define CMD_CLEAR               2
#define CMD_NO_ENCRYPT          3
#define ALG_AES_XTS_128         (1 << 8)

#define DEVICE_BUSY             5
#define ENTROPY_ERROR           2

/* Fresh KeyIDs for the stress test: 5 to 8 */
#define STRESS_KEYID_BASE       5
#define STRESS_KEYIDS           4
static unsigned int iterations = 3000;
module_param(iterations, uint, 0444);
/* A KeyID above MK_TME_MAX_KEYS to write a secret through, or 0 */
static unsigned int high_keyid;
module_param(high_keyid, uint, 0444);
/* scripts/demo: program KeyIDs 1-3, show one page through 0-3, no tests */
static bool demo;
module_param(demo, bool, 0444);

struct mktme_key_program {
	u16 keyid;
	u32 keyid_ctrl;
	u8 rsvd[58];
	u8 key_field_1[64];
	u8 key_field_2[64];
} __packed __aligned(256);

static unsigned long pconfig(struct mktme_key_program *kp)
{
	unsigned long rax = 0;

	asm volatile(".byte 0x0f, 0x01, 0xc5"
		     : "+a"(rax) : "b"(kp) : "memory", "cc");
	return rax;
}

/* Retry as the spec says software must on DEVICE_BUSY */
static unsigned long pconfig_retry(struct mktme_key_program *kp)
{
	unsigned long r;
	int i;

	for (i = 0; i < 100; i++) {
		r = pconfig(kp);
		if (r != DEVICE_BUSY && r != ENTROPY_ERROR)
			break;
	}
	return r;
}

/* The key the stress test programs: the host derives the same bytes */
static void stress_key(struct mktme_key_program *kp, u16 keyid, int cpu,
		       unsigned int iter)
{
	int i;

	for (i = 0; i < 16; i++) {
		kp->key_field_1[i] = (u8)(0xa5 ^ keyid ^ (cpu << 4) ^ i ^
					  (iter >> (8 * (i & 1))));
		kp->key_field_2[i] = (u8)(0x5a ^ keyid ^ (cpu << 2) ^ (3 * i) ^
					  (iter >> (8 * !(i & 1))));
	}
}

static void prepare(struct mktme_key_program *kp, u16 keyid, u32 cmd)
{
	memset(kp, 0, sizeof(*kp));
	kp->keyid = keyid;
	kp->keyid_ctrl = cmd | ALG_AES_XTS_128;
}

struct stress {
	struct completion done;
	int cpu;
	unsigned long count[8];
};

static atomic_t stress_go;

static int stress_thread(void *arg)
{
	struct stress *st = arg;
	struct mktme_key_program *kp = kmalloc(sizeof(*kp), GFP_KERNEL);
	unsigned int i;

	if (!kp) {
		complete(&st->done);
		return -ENOMEM;
	}
	while (!atomic_read(&stress_go))
		cpu_relax();
	for (i = 0; i < iterations; i++) {
		u16 keyid = STRESS_KEYID_BASE + i % STRESS_KEYIDS;
		u32 cmd = CMD_DIRECT;
		unsigned long r;

		if (i % 16 == 7)
			cmd = CMD_CLEAR;
		else if (i % 16 == 13)
			cmd = CMD_NO_ENCRYPT;
		prepare(kp, keyid, cmd);
		if (cmd == CMD_DIRECT)
			stress_key(kp, keyid, st->cpu, i);
		r = pconfig(kp);
		st->count[r < 7 ? r : 7]++;
	}
	kfree(kp);
	complete(&st->done);
	return 0;
}

static void stress(void)
{
	struct stress *st;
	unsigned long total[8] = { 0 };
	int cpu, n = 0, i;

	st = kcalloc(nr_cpu_ids, sizeof(*st), GFP_KERNEL);
	if (!st)
		return;
	atomic_set(&stress_go, 0);
	for_each_online_cpu(cpu) {
		struct task_struct *t;

		init_completion(&st[cpu].done);
		st[cpu].cpu = cpu;
		t = kthread_create(stress_thread, &st[cpu], "tme-stress/%d", cpu);
		if (IS_ERR(t)) {
			pr_err("tme-test: cannot start a thread on CPU %d\n", cpu);
			complete(&st[cpu].done);
			continue;
		}
		kthread_bind(t, cpu);
		wake_up_process(t);
		n++;
	}
	atomic_set(&stress_go, 1);
	for_each_online_cpu(cpu) {
		wait_for_completion(&st[cpu].done);
		for (i = 0; i < 8; i++)
			total[i] += st[cpu].count[i];
	}
	pr_info("tme-test: smp cpus=%d keyid_base=%d keyids=%d iterations=%u\n",
		n, STRESS_KEYID_BASE, STRESS_KEYIDS, iterations);
	pr_info("tme-test: smp success=%lu busy=%lu other=%lu\n", total[0],
		total[DEVICE_BUSY], total[1] + total[2] + total[3] + total[4] +
		total[6] + total[7]);
	kfree(st);
}

/* KeyIDs of the mapping tests: 1 (direct key), 4 (no encrypt), 9 */
#define MAP_KEYID               1
#define NE_KEYID                4
#define OTHER_KEYID             9

static u64 pattern(int i)
{
	return 0x5a5a000000000000ULL ^ ((u64)i * 0x0101010101ULL);
}

/*
 * Map @pg through @keyid: the KeyID sits in the physical address bits
 * above the ones the kernel uses (x86_phys_bits is already reduced by the
 * KeyID bits), which vmap_pfn() passes through to the PTE.
 */
static u64 *map_keyid(struct page *pg, u16 keyid)
{
	unsigned long pfn = page_to_pfn(pg) |
		((unsigned long)keyid << (boot_cpu_data.x86_phys_bits -
					  PAGE_SHIFT));

	return vmap_pfn(&pfn, 1, PAGE_KERNEL);
}

static void print_qwords(const char *name, u64 *p)
{
	pr_info("tme-test: %s=%016llx,%016llx,%016llx,%016llx\n", name,
		p[0], p[1], p[2], p[3]);
}

/*
 * Write a page through KeyID 1, read it back, read its ciphertext through
 * the NO_ENCRYPT KeyID 4 and its KeyID 0 view through the direct map.
 */
static void map_test(struct page *pg)
{
	u64 *k1 = map_keyid(pg, MAP_KEYID), *ne = map_keyid(pg, NE_KEYID);
	u64 *k0 = page_address(pg);
	int i, ok, plain;

	if (!k1 || !ne) {
		pr_info("tme-test: map=failed\n");
		goto out;
	}
	pr_info("tme-test: map_pa=%#llx\n", (u64)page_to_pfn(pg) << PAGE_SHIFT);
	for (i = 0; i < 512; i++)
		k1[i] = pattern(i);
	for (ok = 1, i = 0; i < 512; i++)
		ok &= k1[i] == pattern(i);
	pr_info("tme-test: map_readback=%d\n", ok);
	for (plain = 0, i = 0; i < 512; i++)
		plain += ne[i] == pattern(i);
	pr_info("tme-test: map_ne_plain=%d\n", plain);
	print_qwords("map_ct", ne);
	for (plain = 0, i = 0; i < 512; i++)
		plain += k0[i] == pattern(i);
	pr_info("tme-test: map_k0_plain=%d\n", plain);
	for (ok = 1, i = 0; i < 512; i++)
		ok &= k1[i] == pattern(i);
	pr_info("tme-test: map_readback_again=%d\n", ok);
out:
	if (k1)
		vunmap(k1);
	if (ne)
		vunmap(ne);
}

/*
 * One CPU keeps reading the page through KeyID 1, with its TLB entry hot,
 * while another writes it through KeyID 9.  From then on the reader must
 * see D_1(E_9(P)), never P.
 */
struct stale {
	u64 *mj, *mk;
	int phase;
	unsigned long reads, reads_after, saw_plain;
	u64 last[4];
	struct completion started, done;
};

static int stale_reader(void *arg)
{
	struct stale *s = arg;
	unsigned long n = 0;
	u64 v;
	int i;

	while (READ_ONCE(s->phase) == 0) {
		READ_ONCE(s->mj[0]);
		if (++n == 100000)
			complete(&s->started);
	}
	if (n < 100000)
		complete(&s->started);
	while (READ_ONCE(s->phase) == 1) {
		v = READ_ONCE(s->mj[0]);
		s->reads_after++;
		if (v == pattern(0))
			s->saw_plain++;
	}
	for (i = 0; i < 4; i++)
		s->last[i] = READ_ONCE(s->mj[i]);
	s->reads = n;
	complete(&s->done);
	return 0;
}

static int stale_writer(void *arg)
{
	struct stale *s = arg;
	int i;

	wait_for_completion(&s->started);
	for (i = 0; i < 512; i++)
		WRITE_ONCE(s->mk[i], pattern(i));
	WRITE_ONCE(s->phase, 1);
	mdelay(50);
	WRITE_ONCE(s->phase, 2);
	complete(&s->done);
	return 0;
}

static void stale_tlb_test(struct page *pg)
{
	struct stale *s = kzalloc(sizeof(*s), GFP_KERNEL);
	struct task_struct *r, *w;
	u64 *ne = map_keyid(pg, NE_KEYID);
	int reader_cpu, writer_cpu;

	if (!s || !ne || num_online_cpus() < 2)
		goto out;
	s->mj = map_keyid(pg, MAP_KEYID);
	s->mk = map_keyid(pg, OTHER_KEYID);
	if (!s->mj || !s->mk)
		goto out;
	init_completion(&s->started);
	init_completion(&s->done);
	writer_cpu = cpumask_first(cpu_online_mask);
	reader_cpu = cpumask_next(writer_cpu, cpu_online_mask);
	r = kthread_create(stale_reader, s, "tme-stale-r");
	w = kthread_create(stale_writer, s, "tme-stale-w");
	if (IS_ERR(r) || IS_ERR(w))
		goto out;
	kthread_bind(r, reader_cpu);
	kthread_bind(w, writer_cpu);
	wake_up_process(r);
	wake_up_process(w);
	wait_for_completion(&s->done);
	wait_for_completion(&s->done);
	pr_info("tme-test: stale_cpus=%d,%d reads=%lu reads_after=%lu\n",
		reader_cpu, writer_cpu, s->reads, s->reads_after);
	pr_info("tme-test: stale_saw_plain=%lu\n", s->saw_plain);
	print_qwords("stale_reader", s->last);
	print_qwords("stale_ct", ne);
out:
	if (s && s->mj)
		vunmap(s->mj);
	if (s && s->mk)
		vunmap(s->mk);
	if (ne)
		vunmap(ne);
	kfree(s);
}

/*
 * A KeyID that PCONFIG cannot program (above MK_TME_MAX_KEYS) keeps the
 * TME key: PCONFIG refuses it, a page written through it reads back, and
 * since KeyID 0 uses the same key the direct map reads the plaintext.
 * The page stays allocated for the host to read its DRAM image.
 */
static void high_keyid_test(struct mktme_key_program *kp)
{
	static const char secret[] = "MKTME-HIGH-KEYID-SECRET-01234567";
	struct page *pg = alloc_page(GFP_KERNEL);
	u8 *k0, *hk;
	int i, ok;

	prepare(kp, high_keyid, CMD_DIRECT);
	pr_info("tme-test: high_pconfig=%lu\n", pconfig_retry(kp));
	if (!pg)
		return;
	hk = (u8 *)map_keyid(pg, high_keyid);
	if (!hk) {
		pr_info("tme-test: high_map=failed\n");
		return;
	}
	for (i = 0; i < PAGE_SIZE; i++)
		hk[i] = secret[i % 32];
	for (ok = 1, i = 0; i < PAGE_SIZE; i++)
		ok &= hk[i] == secret[i % 32];
	pr_info("tme-test: high_readback=%d\n", ok);
	vunmap(hk);
	k0 = page_address(pg);
	for (ok = 1, i = 0; i < PAGE_SIZE; i++)
		ok &= k0[i] == secret[i % 32];
	pr_info("tme-test: high_k0_plain=%d\n", ok);
	pr_info("tme-test: high_pa=%#llx\n",
		(u64)page_to_pfn(pg) << PAGE_SHIFT);
}

static void keyid_mapping_tests(struct mktme_key_program *kp)
{
	struct page *pg = alloc_page(GFP_KERNEL);

	prepare(kp, OTHER_KEYID, CMD_DIRECT);
	memset(kp->key_field_1, 0x99, 16);
	memset(kp->key_field_2, 0xaa, 16);
	pr_info("tme-test: other=%lu\n", pconfig_retry(kp));
	if (!pg)
		return;
	map_test(pg);
	stale_tlb_test(pg);
	__free_page(pg);
}

/*
 * The demo of scripts/demo: KeyID 1 gets a direct key (the host knows
 * it), KeyID 2 a random one, KeyID 3 no encryption.  A secret written
 * through KeyID 1 into one page, then its first 64 bytes as each KeyID
 * reads them.  The page stays allocated and mapped for the host to
 * look at.
 */
static const char demo_secret[64] =
	"MKTME demo: this secret was written through KeyID 1 (direct key)";

static void demo_show(void)
{
	struct mktme_key_program *kp = kmalloc(sizeof(*kp), GFP_KERNEL);
	struct page *pg = alloc_page(GFP_KERNEL);
	u8 *view[4];
	u16 keyid;

	if (!kp || !pg) {
		pr_info("tme-demo: no memory\n");
		return;
	}
	prepare(kp, 1, CMD_DIRECT);
	memset(kp->key_field_1, 0x11, 16);
	memset(kp->key_field_2, 0x22, 16);
	pr_info("tme-demo: pconfig keyid=1 direct -> %lu\n", pconfig_retry(kp));
	prepare(kp, 2, CMD_RANDOM);
	pr_info("tme-demo: pconfig keyid=2 random -> %lu\n", pconfig_retry(kp));
	prepare(kp, 3, CMD_NO_ENCRYPT);
	pr_info("tme-demo: pconfig keyid=3 no-encrypt -> %lu\n",
		pconfig_retry(kp));
	kfree(kp);

	view[0] = page_address(pg);
	for (keyid = 1; keyid < 4; keyid++) {
		view[keyid] = (u8 *)map_keyid(pg, keyid);
		if (!view[keyid]) {
			pr_info("tme-demo: map=failed\n");
			return;
		}
	}
	memcpy(view[1], demo_secret, sizeof(demo_secret));
	pr_info("tme-demo: pa=%#llx\n", (u64)page_to_pfn(pg) << PAGE_SHIFT);
	for (keyid = 0; keyid < 4; keyid++) {
		pr_info("tme-demo: keyid=%u %*phN\n", keyid, 32, view[keyid]);
		pr_info("tme-demo: keyid=%u+32 %*phN\n", keyid, 32,
			view[keyid] + 32);
	}
}

static int __init tme_test_init(void)
{
	struct mktme_key_program *kp;
	u64 act = 0;

	pr_info("tme-test: pconfig=%d\n", boot_cpu_has(X86_FEATURE_PCONFIG));
	if (rdmsrl_safe(MSR_IA32_TME_ACTIVATE, &act))
		pr_info("tme-test: rdmsr failed\n");
	pr_info("tme-test: activate=%#llx phys_bits=%u\n", act,
		boot_cpu_data.x86_phys_bits);
	if (!boot_cpu_has(X86_FEATURE_PCONFIG))
		return 0;
	if (demo) {
		demo_show();
		return 0;
	}

	kp = kmalloc(sizeof(*kp), GFP_KERNEL);
	if (!kp)
		return -ENOMEM;
	pr_info("tme-test: aligned=%d\n", !((unsigned long)kp & 255));

	prepare(kp, 1, CMD_DIRECT);
	memset(kp->key_field_1, 0x11, 16);
	memset(kp->key_field_2, 0x22, 16);
	pr_info("tme-test: direct=%lu\n", pconfig_retry(kp));
	prepare(kp, 2, CMD_RANDOM);
	memset(kp->key_field_1, 0x33, 16);
	pr_info("tme-test: random=%lu\n", pconfig_retry(kp));
	prepare(kp, 3, CMD_CLEAR);
	pr_info("tme-test: clear=%lu\n", pconfig_retry(kp));
	prepare(kp, 4, CMD_NO_ENCRYPT);
	pr_info("tme-test: no_encrypt=%lu\n", pconfig_retry(kp));
	prepare(kp, 0, CMD_DIRECT);
	pr_info("tme-test: keyid0=%lu\n", pconfig_retry(kp));
	prepare(kp, 1, 9);
	pr_info("tme-test: badcmd=%lu\n", pconfig_retry(kp));
	prepare(kp, 1, CMD_DIRECT);
	kp->keyid_ctrl = CMD_DIRECT | (2 << 8);
	pr_info("tme-test: badalg=%lu\n", pconfig_retry(kp));
	keyid_mapping_tests(kp);
	if (high_keyid)
		high_keyid_test(kp);
	kfree(kp);

	stress();
	pr_info("tme-test: done\n");
	return 0;
}

static void __exit tme_test_exit(void)
{
}

module_init(tme_test_init);
module_exit(tme_test_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("TME/MKTME tests in a QEMU guest");
