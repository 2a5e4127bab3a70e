// Progress of a long command: a bar redrawn in place on a terminal; on
// anything else (a Kubernetes Job's log, a pipe) one line every few seconds,
// with the rate, so an operator can tell a paced run from a stuck one.
#pragma once

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

namespace fgac::taskctl {

class Progress {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kLineEvery = std::chrono::seconds(5);
  static constexpr auto kStateLineEvery = std::chrono::seconds(1);

  Progress(std::string label, long long total)
      : label_(std::move(label)), total_(total), tty_(isatty(STDOUT_FILENO) == 1), started_(Clock::now()) {}

  // `detail` is appended (e.g. what a paced run is waiting for); `now_line`
  // (a change of state) prints it unless a line went out in the last second.
  void update(long long done, const std::string& detail = {}, bool now_line = false) {
    if (total_ <= 0) return;
    if (tty_) {
      draw_bar(done, detail);
      return;
    }
    const auto now = Clock::now();
    if (now - last_line_ < (now_line ? kStateLineEvery : kLineEvery)) return;
    last_line_ = now;
    const double seconds = std::chrono::duration<double>(now - started_).count();
    std::cout << label_ << ": " << done << "/" << total_ << " ("
              << static_cast<long long>(static_cast<double>(done) / seconds) << "/s)" << (detail.empty() ? "" : ", ")
              << detail << std::endl;
  }
  void finish() {
    if (tty_ && total_ > 0) std::cout << "\n";
  }

 private:
  void draw_bar(long long done, const std::string& detail) const {
    constexpr int kWidth = 30;
    const auto filled = static_cast<int>(kWidth * std::min(done, total_) / total_);
    std::cout << "\r" << label_ << " [" << std::string(static_cast<std::size_t>(filled), '#')
              << std::string(static_cast<std::size_t>(kWidth - filled), ' ') << "] " << done << "/" << total_
              << (detail.empty() ? "" : " ") << detail << "\x1b[K" << std::flush;
  }

  std::string label_;
  long long total_;
  bool tty_;
  Clock::time_point started_;
  Clock::time_point last_line_{};
};

}  // namespace fgac::taskctl
