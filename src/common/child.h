/* child.h - child processes that die with their parent: the servers that
 * orgbench --spawn and the integration tests start. */
#ifndef OD_CHILD_H
#define OD_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

/* Starts argv[0] (argv NULL-terminated; the environment inherited) with
 * its stderr, and with with_stdout its stdout too, appended to log_path
 * (created with mode). The child gets SIGKILL when the calling thread ends
 * (PR_SET_PDEATHSIG), so call it from the main thread: then a parent that
 * is killed or crashes leaves no child behind holding its output pipes.
 * Returns 0 and sets *pid, or returns the errno of what failed, the exec
 * included (the child is then reaped). */
int od_spawn_tied(
    char *const argv[], const char *log_path, mode_t mode, bool with_stdout, pid_t *pid);

#endif
