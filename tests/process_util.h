// Running a real program from a test: its exit code and output, bounded in
// time (it is killed past `timeout_seconds`, through coreutils' timeout).
#ifndef CELLINDEX_TESTS_PROCESS_UTIL_H_
#define CELLINDEX_TESTS_PROCESS_UTIL_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace cellindex::testing {

struct ProcessResult {
  int code = -1;  // exit code, or 128 + signal
  std::string out, err;
};

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `args` (args[0] found on PATH) with stdin from `stdin_path` (empty:
// /dev/null), its stdout and stderr captured in files under `scratch`.
inline ProcessResult RunProcess(std::vector<std::string> args, const std::string& scratch,
                                int timeout_seconds = 60, const std::string& stdin_path = "") {
  args.insert(args.begin(), {"timeout", "-s", "KILL", std::to_string(timeout_seconds)});
  const std::string out = scratch + "/process.stdout", err = scratch + "/process.stderr";
  pid_t pid = ::fork();
  if (pid == 0) {
    const int i = ::open(stdin_path.empty() ? "/dev/null" : stdin_path.c_str(), O_RDONLY);
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(i, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    std::_Exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ProcessResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadWholeFile(out);
  r.err = ReadWholeFile(err);
  return r;
}

// Runs the test `test` (a DISABLED_ one, e.g. "DrainTest.DISABLED_Child")
// of this very test binary in a fresh process, with `env` set and its
// stdout discarded: for tests that kill a process at a chosen moment
// (RocksDB's background threads do not survive a fork, so the child
// re-executes). Returns the child's wait status.
inline int RunChildTest(const std::string& test,
                        const std::vector<std::pair<std::string, std::string>>& env) {
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    const std::string filter = "--gtest_filter=" + test;
    ::execl("/proc/self/exe", "child", "--gtest_also_run_disabled_tests", filter.c_str(), nullptr);
    std::_Exit(127);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return status;
}

// Whether a wait status is death by SIGKILL; else a message saying how
// the process ended.
inline std::string KilledOrWhy(int status) {
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) return "";
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "exited with " + std::to_string(WEXITSTATUS(status));
}

}  // namespace cellindex::testing

#endif  // CELLINDEX_TESTS_PROCESS_UTIL_H_
