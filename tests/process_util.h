// Running a real program from a test: its exit code and output, bounded in
// time (it is killed past `timeout_seconds`, through coreutils' timeout).
#ifndef CELLINDEX_TESTS_PROCESS_UTIL_H_
#define CELLINDEX_TESTS_PROCESS_UTIL_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/prctl.h>
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

// A real server a test starts (etcd, a host process): it runs until the
// test stops it, and is killed if the test process dies first
// (PR_SET_PDEATHSIG) or when the object goes. Its stdout and stderr go to
// `log_path`.
class BackgroundProcess {
 public:
  BackgroundProcess() = default;
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  ~BackgroundProcess() { Kill(); }

  // args[0] is found on PATH. False when it could not be started.
  bool Start(std::vector<std::string> args, const std::string& log_path) {
    Kill();
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) std::_Exit(127);  // the test died already
      const int i = ::open("/dev/null", O_RDONLY);
      const int o = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(i, 0);
      ::dup2(o, 1);
      ::dup2(o, 2);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      std::_Exit(127);
    }
    pid_ = pid;
    return true;
  }
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Sends `sig` (SIGSTOP, SIGCONT, ...) without waiting.
  void Signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // SIGSTOP, and waits until it is stopped (or has exited): the signal is
  // delivered asynchronously, so without the wait a request sent next may
  // still be served. Whether it stopped.
  bool Stop() {
    if (pid_ <= 0) return false;
    ::kill(pid_, SIGSTOP);
    int status = 0;
    // WUNTRACED reports the stop of a child (this is its parent).
    return ::waitpid(pid_, &status, WUNTRACED) == pid_ && WIFSTOPPED(status);
  }
  // SIGKILL, then reaps it. Returns its wait status (-1: none was running).
  int Kill() { return StopWith(SIGKILL); }
  // SIGTERM, and waits for it to exit; returns its wait status.
  int Terminate() { return StopWith(SIGTERM); }
  // Whether it has exited (reaped); *status gets its wait status.
  bool Exited(int* status) {
    if (pid_ <= 0) return true;
    if (::waitpid(pid_, status, WNOHANG) != pid_) return false;
    pid_ = -1;
    return true;
  }

 private:
  int StopWith(int sig) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    if (sig != SIGKILL && sig != SIGCONT) ::kill(pid_, SIGCONT);  // a stopped one too
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  pid_t pid_ = -1;
};

// A TCP port on 127.0.0.1 that nothing listened on a moment ago (the
// kernel's pick for port 0). 0 when none could be found.
inline int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace cellindex::testing

#endif  // CELLINDEX_TESTS_PROCESS_UTIL_H_
