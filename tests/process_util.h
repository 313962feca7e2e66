// Running a real program from a test: its exit code and output, bounded in
// time (it is killed past `timeout_seconds`, through coreutils' timeout).
#ifndef CELLINDEX_TESTS_PROCESS_UTIL_H_
#define CELLINDEX_TESTS_PROCESS_UTIL_H_

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
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

}  // namespace cellindex::testing

#endif  // CELLINDEX_TESTS_PROCESS_UTIL_H_
