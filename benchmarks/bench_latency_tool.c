/* SPDX-License-Identifier: Apache-2.0 */
/* The latency benchmark's client and server (benchmarks/bench_latency.sh runs them in the lab's
 * namespaces). Plain sockets, IPv4 TCP, CLOCK_MONOTONIC.
 *
 *   bench_latency_tool serve ADDR PORT
 *       An echo server: poll() over the listening socket and every connection; what arrives is
 *       written back; a connection ends when its peer closes it. Runs until killed.
 *   bench_latency_tool rr|crr ADDR PORT --seconds=S [--rate=R] [--size=M] [--warmup=W]
 *                              [--samples=FILE]
 *       rr:  one TCP connection (TCP_NODELAY); a request is M bytes written, then M bytes read
 *            back; the time of each from before the write to after the last byte read.
 *       crr: a new connection a request: socket(), connect(), M bytes written, M read back,
 *            close(); the time from before socket() to after close().
 *       W requests first (not measured; default 100 for rr, 20 for crr), then requests for S
 *       seconds: back to back (R = 0, the default), or started at R per second on a fixed
 *       schedule (clock_nanosleep to each start time: the client sleeps, it does not spin;
 *       a request that could not start on time starts at once, the schedule is kept).
 *       One JSON line on stdout: requests, errors, achieved rate, min/mean/p50/p99/p99.9/max in
 *       microseconds; --samples: every request's time in nanoseconds, one a line, to FILE.
 *       Exit status 3 when not one request was answered (crr: failed ones are counted).
 *   bench_latency_tool pct FILE...
 *       The same statistics over the samples of all the files (runs pooled).
 * Percentiles are nearest-rank: the smallest sample that at least p % of the samples do not
 * exceed; p99.9 is null below 1,000 samples (it would be the maximum or close to it). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64
#define MAX_SIZE 65536

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_latency_tool: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct sockaddr_in parse_addr(const char *ip, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char *end;
	unsigned long p = strtoul(port, &end, 10);
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1 || *end || p == 0 || p > 65535) {
		fprintf(stderr, "bench_latency_tool: bad address %s:%s\n", ip, port);
		exit(2);
	}
	a.sin_port = htons((uint16_t)p);
	return a;
}

static _Noreturn void serve(struct sockaddr_in a)
{
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0)
		die("socket");
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 1024) < 0)
		die("bind/listen");
	struct pollfd pf[MAX_CONNS + 1];
	int n = 1;
	static char buf[MAX_SIZE];
	pf[0] = (struct pollfd){ .fd = ls, .events = POLLIN };
	for (;;) {
		if (poll(pf, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (int i = n - 1; i >= 1; i--) {
			if (!pf[i].revents)
				continue;
			ssize_t r = read(pf[i].fd, buf, sizeof(buf));
			size_t off = 0;
			while (r > 0 && off < (size_t)r) {
				ssize_t w = write(pf[i].fd, buf + off, (size_t)r - off);
				if (w <= 0)
					break;
				off += (size_t)w;
			}
			if (r <= 0 || off < (size_t)r) {
				close(pf[i].fd);
				pf[i] = pf[--n];
			}
		}
		if (pf[0].revents & POLLIN) {
			int c = accept(ls, NULL, NULL);
			if (c < 0)
				continue;
			if (n > MAX_CONNS) {
				close(c);
				continue;
			}
			setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			pf[n++] = (struct pollfd){ .fd = c, .events = POLLIN };
		}
	}
}

static int connect_to(struct sockaddr_in a)
{
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = { .tv_sec = 2 }; /* connect, read and write give up after 2 s */
	if (s < 0)
		return -1;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

/* One request on connection s: size bytes out, size bytes back. 0 or -1. */
static int request(int s, char *buf, size_t size)
{
	if (write(s, buf, size) != (ssize_t)size)
		return -1;
	for (size_t got = 0; got < size;) {
		ssize_t r = read(s, buf + got, size - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

struct samples {
	uint64_t *v;
	size_t n, cap;
};

static void add(struct samples *s, uint64_t x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 65536;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			die("memory");
	}
	s->v[s->n++] = x;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(const struct samples *s, double p)
{
	size_t k = (size_t)((p / 100.0) * (double)s->n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > s->n)
		k = s->n;
	return (double)s->v[k - 1] / 1e3;
}

/* The statistics as the inside of a JSON object (no braces). */
static void print_stats(struct samples *s)
{
	if (s->n == 0) {
		printf("\"requests\":0,\"p50_us\":null,\"p99_us\":null,\"p999_us\":null");
		return;
	}
	qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	double sum = 0;
	for (size_t i = 0; i < s->n; i++)
		sum += (double)s->v[i];
	printf("\"requests\":%zu,\"min_us\":%.1f,\"mean_us\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,",
		s->n, (double)s->v[0] / 1e3, sum / (double)s->n / 1e3, pct(s, 50), pct(s, 99));
	if (s->n >= 1000)
		printf("\"p999_us\":%.1f,", pct(s, 99.9));
	else
		printf("\"p999_us\":null,");
	printf("\"max_us\":%.1f", (double)s->v[s->n - 1] / 1e3);
}

static int client(int crr, struct sockaddr_in a, double seconds, double rate, size_t size,
	long warmup, const char *samples_path)
{
	static char buf[MAX_SIZE];
	memset(buf, 'x', size);
	int s = -1;
	long errors = 0;
	if (!crr && (s = connect_to(a)) < 0)
		die("connect");
	struct samples sm = { 0 };
	uint64_t t_start = 0, t_end = 0, next = 0, period = rate > 0 ? (uint64_t)(1e9 / rate) : 0;
	for (long i = -warmup;; i++) {
		if (i == 0) {
			t_start = now_ns();
			t_end = t_start + (uint64_t)(seconds * 1e9);
			next = t_start + period;
		}
		if (i >= 0 && period) {
			/* Sleep to the request's start time (absolute: no drift). */
			struct timespec ts = { .tv_sec = (time_t)(next / 1000000000ull),
				.tv_nsec = (long)(next % 1000000000ull) };
			if (next >= t_end)
				break;
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
			next += period;
		} else if (i >= 0 && now_ns() >= t_end) {
			break;
		}
		uint64_t t0 = now_ns();
		int rc;
		if (crr) {
			int c = connect_to(a);
			rc = c < 0 ? -1 : request(c, buf, size);
			if (c >= 0)
				close(c);
		} else {
			rc = request(s, buf, size);
		}
		uint64_t t1 = now_ns();
		if (rc < 0) {
			if (!crr)
				die("request on the connection");
			if (i >= 0)
				errors++;
			continue;
		}
		if (i >= 0)
			add(&sm, t1 - t0);
	}
	double el = (double)(now_ns() - t_start) / 1e9;
	if (s >= 0)
		close(s);
	if (samples_path) {
		FILE *f = fopen(samples_path, "w");
		if (!f)
			die(samples_path);
		for (size_t i = 0; i < sm.n; i++)
			fprintf(f, "%llu\n", (unsigned long long)sm.v[i]);
		if (fclose(f) != 0)
			die(samples_path);
	}
	printf("{\"errors\":%ld,\"seconds\":%.3f,\"achieved_rps\":%.1f,", errors, el,
		(double)sm.n / el);
	print_stats(&sm);
	printf("}\n");
	return sm.n ? 0 : 3; /* not one request answered */
}

static int pooled(int n, char **files)
{
	struct samples sm = { 0 };
	for (int i = 0; i < n; i++) {
		FILE *f = fopen(files[i], "r");
		unsigned long long x;
		if (!f)
			die(files[i]);
		while (fscanf(f, "%llu", &x) == 1)
			add(&sm, x);
		fclose(f);
	}
	printf("{\"files\":%d,", n);
	print_stats(&sm);
	printf("}\n");
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_latency_tool serve ADDR PORT\n"
			"       bench_latency_tool rr|crr ADDR PORT --seconds=S [--rate=R] "
			"[--size=M] [--warmup=W] [--samples=FILE]\n"
			"       bench_latency_tool pct FILE...\n");
	return 2;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 3 && strcmp(argv[1], "pct") == 0)
		return pooled(argc - 2, argv + 2);
	if (argc < 4)
		return usage();
	struct sockaddr_in a = parse_addr(argv[2], argv[3]);
	if (strcmp(argv[1], "serve") == 0)
		serve(a);
	int crr = strcmp(argv[1], "crr") == 0;
	if (!crr && strcmp(argv[1], "rr") != 0)
		return usage();
	double seconds = 0, rate = 0;
	long size = 64, warmup = crr ? 20 : 100;
	const char *samples = NULL;
	for (int i = 4; i < argc; i++) {
		const char *v = strchr(argv[i], '=');
		if (!v)
			return usage();
		v++;
		if (strncmp(argv[i], "--seconds=", 10) == 0)
			seconds = atof(v);
		else if (strncmp(argv[i], "--rate=", 7) == 0)
			rate = atof(v);
		else if (strncmp(argv[i], "--size=", 7) == 0)
			size = atol(v);
		else if (strncmp(argv[i], "--warmup=", 9) == 0)
			warmup = atol(v);
		else if (strncmp(argv[i], "--samples=", 10) == 0)
			samples = v;
		else
			return usage();
	}
	if (seconds <= 0 || rate < 0 || size < 1 || size > MAX_SIZE || warmup < 0)
		return usage();
	return client(crr, a, seconds, rate, (size_t)size, warmup, samples);
}
