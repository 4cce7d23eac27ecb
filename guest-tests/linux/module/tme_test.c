// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A test module for TME/MKTME in a QEMU guest: PCONFIG on a real kernel,
 * then the same KeyIDs programmed from every online CPU at once.
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
