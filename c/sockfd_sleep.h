// sleep() that the environment variable SOCKFD_SLEEP_SCALE can shorten, so tests
// run the tutorial's programs fast. Unset (or not a number >= 0): plain sleep().
// SOCKFD_SLEEP_SCALE=0.01 turns sleep(1) into 10 ms and sleep(100000) into 1000 s.
#ifndef SOCKFD_SLEEP_H
#define SOCKFD_SLEEP_H

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static inline unsigned int sockfd_sleep(unsigned int seconds)
{
  // The lessons call perror() after calls that leave errno alone (recv() == 0),
  // so this helper must not change errno (glibc's sleep() does not either).
  int saved_errno = errno;
  const char *text = getenv("SOCKFD_SLEEP_SCALE");
  char *end = NULL;
  double scale = text != NULL ? strtod(text, &end) : -1.0;
  unsigned int left = 0;
  if (text == NULL || end == text || *end != '\0' || !(scale >= 0.0) || scale > 1.0e6)
  {
    left = sleep(seconds);
  }
  else
  {
    double total = (double)seconds * scale;
    struct timespec ts;
    ts.tv_sec = (time_t)total;
    ts.tv_nsec = (long)((total - (double)ts.tv_sec) * 1.0e9);
    // Like sleep(): a signal ends it early; report a whole second left if so.
    if (nanosleep(&ts, NULL) != 0) left = 1;
  }
  errno = saved_errno;
  return left;
}

#endif
