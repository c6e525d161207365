/* child.c - fork and exec, the child tied to its parent (child.h). Not
 * posix_spawn: it cannot ask for PR_SET_PDEATHSIG. */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

extern char **environ;

/* In the child: only async-signal-safe calls (the parent has threads).
 * 0, or the errno of the redirection that failed. */
static int
redirect(const char *log_path, mode_t mode, bool with_stdout)
{
	int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, mode);
	if (fd < 0) {
		return errno;
	}
	int first = with_stdout ? 1 : 2;
	int err = 0;
	if (fd != first && dup2(fd, first) < 0) {
		err = errno;
	}
	if (fd != first) {
		close(fd);
	}
	if (err == 0 && with_stdout && dup2(1, 2) < 0) {
		err = errno;
	}
	return err;
}

int
od_spawn_tied(char *const argv[], const char *log_path, mode_t mode, bool with_stdout, pid_t *pid)
{
	int report[2]; /* the child's errno if it cannot exec; closed by the exec */
	if (pipe2(report, O_CLOEXEC) != 0) {
		return errno;
	}
	pid_t parent = getpid();
	pid_t child = fork();
	if (child == 0) {
		/* Re-checking the parent covers its exit before the prctl. */
		int err = 0;
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
			_exit(127);
		}
		err = redirect(log_path, mode, with_stdout);
		if (err == 0) {
			execve(argv[0], argv, environ);
			err = errno;
		}
		ssize_t w = write(report[1], &err, sizeof(err));
		(void) w;
		_exit(127);
	}
	int err = child < 0 ? errno : 0;
	close(report[1]);
	if (child > 0) {
		ssize_t n;
		do {
			n = read(report[0], &err, sizeof(err));
		} while (n < 0 && errno == EINTR);
		if (n == (ssize_t) sizeof(err)) {
			waitpid(child, NULL, 0); /* it could not exec: err says why */
		} else {
			err = 0;
			*pid = child;
		}
	}
	close(report[0]);
	return err;
}
