// A progress bar on a terminal, nothing when stdout is not one.
#pragma once

#include <unistd.h>
#include <cstdio>
#include <iostream>
#include <string>

namespace fgac::taskctl {

class Progress {
 public:
  Progress(std::string label, long long total)
      : label_(std::move(label)), total_(total), tty_(isatty(STDOUT_FILENO) == 1) {}
  void update(long long done) {
    if (!tty_ || total_ <= 0) return;
    constexpr int kWidth = 30;
    const auto filled = static_cast<int>(kWidth * std::min(done, total_) / total_);
    std::cout << "\r" << label_ << " [" << std::string(static_cast<std::size_t>(filled), '#')
              << std::string(static_cast<std::size_t>(kWidth - filled), ' ') << "] " << done << "/" << total_
              << std::flush;
  }
  void finish() {
    if (tty_ && total_ > 0) std::cout << "\n";
  }

 private:
  std::string label_;
  long long total_;
  bool tty_;
};

}  // namespace fgac::taskctl
