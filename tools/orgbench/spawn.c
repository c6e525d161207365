/* spawn.c - child processes (orgdird, the echo server), the temporary
 * directory they live in, and what /proc says about them. The children
 * die with orgbench (PR_SET_PDEATHSIG): a killed or crashed run leaves no
 * server behind holding the pipes of whoever ran it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orgbench.h"
#include "child.h"

int
ob_spawn(char *const argv[], const char *log_path, pid_t *pid, char *err, size_t errlen)
{
	int rc = od_spawn_tied(argv, log_path, 0644, true, pid);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start %s: %s", argv[0], strerror(rc));
		return -1;
	}
	return 0;
}

bool
ob_child_alive(pid_t pid, int *exit_status)
{
	int status;
	if (waitpid(pid, &status, WNOHANG) != pid) {
		return true;
	}
	*exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return false;
}

int
ob_child_stop(pid_t pid, int timeout_ms)
{
	kill(pid, SIGTERM);
	return ob_child_stop_after(pid, timeout_ms);
}

int
ob_child_stop_after(pid_t pid, int timeout_ms)
{
	int status;
	uint64_t end = ob_now_ns() + (uint64_t) timeout_ms * 1000000u;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		if (w < 0) {
			return -1;
		}
		if (ob_now_ns() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		ob_sleep_ns(10 * 1000000u);
	}
}

void
ob_rss(pid_t pid, long *rss_kib, long *anon_kib)
{
	char path[64];
	char line[256];
	*rss_kib = *anon_kib = -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", (long) pid);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			*rss_kib = strtol(line + 6, NULL, 10);
		} else if (strncmp(line, "RssAnon:", 8) == 0) {
			*anon_kib = strtol(line + 8, NULL, 10);
		}
	}
	fclose(f);
}

int
ob_free_tcp_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		return -1;
	}
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int port = -1;
	if (bind(fd, (struct sockaddr *) &a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *) &a, &len) == 0) {
		port = ntohs(a.sin_port);
	}
	close(fd);
	return port;
}

int
ob_mkdtemp(char *out, size_t n)
{
	const char *base = getenv("TMPDIR");
	if (base == NULL || base[0] == '\0') {
		base = "/tmp";
	}
	if ((size_t) snprintf(out, n, "%s/orgbench-XXXXXX", base) >= n) {
		return -1;
	}
	return mkdtemp(out) != NULL ? 0 : -1;
}

void
ob_rmtree(const char *path)
{
	struct stat sb;
	if (lstat(path, &sb) != 0) {
		return;
	}
	if (S_ISDIR(sb.st_mode)) {
		DIR *d = opendir(path);
		if (d != NULL) {
			struct dirent *e;
			while ((e = readdir(d)) != NULL) {
				char sub[4096];
				if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
					continue;
				}
				if ((size_t) snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) <
				    sizeof(sub)) {
					ob_rmtree(sub);
				}
			}
			closedir(d);
		}
		rmdir(path);
	} else {
		unlink(path);
	}
}

int
ob_self_exe(char *out, size_t n)
{
	/* readlink, not exec of /proc/self/exe: under valgrind only the
	 * former names this program. */
	ssize_t len = readlink("/proc/self/exe", out, n - 1);
	if (len <= 0) {
		return -1;
	}
	out[len] = '\0';
	return 0;
}

int
ob_self_dir(char *out, size_t n)
{
	if (ob_self_exe(out, n) != 0) {
		return -1;
	}
	char *slash = strrchr(out, '/');
	if (slash == NULL) {
		return -1;
	}
	*slash = '\0';
	return 0;
}
