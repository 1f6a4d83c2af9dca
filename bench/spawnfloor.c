/* The spawn floor: how fast this machine can posix_spawn + waitpid a trivial
 * program. Compiled at bench time by bench/setup.py with the system compiler.
 *
 *   spawnfloor seq N PROG      spawn PROG N times, one after the other;
 *                              prints spawns per second
 *   spawnfloor batch N PROG    spawn N copies at once, then reap them all;
 *                              prints the elapsed milliseconds
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s seq|batch N PROG [ARGS...]\n", argv[0]);
		return 2;
	}
	int n = atoi(argv[2]);
	char **args = argv + 3;
	pid_t *pids = calloc(n, sizeof(pid_t));
	double t0 = now();
	if (strcmp(argv[1], "seq") == 0) {
		for (int i = 0; i < n; i++) {
			int st;
			if (posix_spawn(&pids[i], args[0], NULL, NULL, args, environ) != 0)
				return 1;
			waitpid(pids[i], &st, 0);
		}
		printf("%.1f\n", n / (now() - t0));
	} else {
		for (int i = 0; i < n; i++)
			if (posix_spawn(&pids[i], args[0], NULL, NULL, args, environ) != 0)
				return 1;
		for (int i = 0; i < n; i++) {
			int st;
			waitpid(pids[i], &st, 0);
		}
		printf("%.3f\n", (now() - t0) * 1e3);
	}
	return 0;
}
