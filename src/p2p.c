/*
 * Point-to-point transfers of any byte size. MPI counts are int, tcoll counts
 * size_t: a transfer longer than TCOLL_MAX_MESSAGE_BYTES goes as several
 * messages. Both sides split the same byte count identically, so pieces match
 * in order (MPI's non-overtaking rule on one communicator and tag).
 */
#include "tcoll_internal.h"

static int piece(size_t remaining) {
  return (int)(remaining < TCOLL_MAX_MESSAGE_BYTES ? remaining : TCOLL_MAX_MESSAGE_BYTES);
}

tcoll_status tcoll__send(tcoll_comm *c, const void *buf, size_t bytes, int dest) {
  const char *p = buf;
  for (size_t done = 0; done < bytes;) {
    int n = piece(bytes - done);
    int err = MPI_Send(p + done, n, MPI_BYTE, dest, TCOLL_TAG, c->mpi);
    if (err != MPI_SUCCESS) return tcoll__mpi_error(err, "MPI_Send");
    done += (size_t)n;
  }
  return TCOLL_OK;
}

tcoll_status tcoll__recv(tcoll_comm *c, void *buf, size_t bytes, int src) {
  char *p = buf;
  for (size_t done = 0; done < bytes;) {
    int n = piece(bytes - done);
    int err = MPI_Recv(p + done, n, MPI_BYTE, src, TCOLL_TAG, c->mpi, MPI_STATUS_IGNORE);
    if (err != MPI_SUCCESS) return tcoll__mpi_error(err, "MPI_Recv");
    done += (size_t)n;
  }
  return TCOLL_OK;
}

tcoll_status tcoll__sendrecv(tcoll_comm *c, const void *sbuf, size_t sbytes, int dest, void *rbuf,
                             size_t rbytes, int src) {
  return tcoll__sendrecv_tag(c, sbuf, sbytes, dest, rbuf, rbytes, src, TCOLL_TAG);
}

tcoll_status tcoll__sendrecv_tag(tcoll_comm *c, const void *sbuf, size_t sbytes, int dest, void *rbuf,
                                 size_t rbytes, int src, int tag) {
  const char *s = sbuf;
  char *r = rbuf;
  size_t sent = 0, received = 0;
  /* Lockstep pieces; when one side is longer its tail goes alone. A zero-byte
   * side is skipped entirely so that, e.g., a rank with an empty block does
   * not post a message its partner never expects. */
  while (sent < sbytes || received < rbytes) {
    int sn = piece(sbytes - sent), rn = piece(rbytes - received);
    int err;
    if (sn > 0 && rn > 0)
      err = MPI_Sendrecv(s + sent, sn, MPI_BYTE, dest, tag, r + received, rn, MPI_BYTE, src,
                         tag, c->mpi, MPI_STATUS_IGNORE);
    else if (sn > 0)
      err = MPI_Send(s + sent, sn, MPI_BYTE, dest, tag, c->mpi);
    else
      err = MPI_Recv(r + received, rn, MPI_BYTE, src, tag, c->mpi, MPI_STATUS_IGNORE);
    if (err != MPI_SUCCESS) return tcoll__mpi_error(err, "MPI_Sendrecv");
    sent += (size_t)sn;
    received += (size_t)rn;
  }
  return TCOLL_OK;
}
