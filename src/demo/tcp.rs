//! Plain TCP: the receipt printer's line protocol (`STATUS` → `READY`, as the bundled `tcp`
//! probe sends and expects it), and a bare port that accepts connections, which is all the
//! `message-queue`'s Nagios-style `exec` check (`bash -c 'exec 3<>/dev/tcp/…'`) looks for.
//!
//! Hand-written because there is nothing to parse: one line in, one line out.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::{Answer, Serving};

/// How long a connection may stay idle before the server closes it.
const IDLE: Duration = Duration::from_secs(10);

/// Serves the printer relay until the fleet stops: each line is a command, `STATUS` answers
/// `READY` (or, failing, `BUSY paper jam` and the connection closes), anything else `ERROR unknown command`.
pub(crate) async fn serve_printer(listener: TcpListener, serving: Serving) {
    accept_loop(listener, serving, |stream, serving| async move {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read.take(64 * 1024)).lines();
        while let Ok(Ok(Some(line))) = tokio::time::timeout(IDLE, lines.next_line()).await {
            serving.delay().await;
            let failing = serving.answer == Answer::Failing;
            let reply = match line.trim() {
                "STATUS" if failing => "BUSY paper jam\n",
                "STATUS" => "READY\n",
                _ => "ERROR unknown command\n",
            };
            // A jammed relay reports it and hangs up.
            if write.write_all(reply.as_bytes()).await.is_err() || failing {
                break;
            }
        }
    })
    .await;
}

/// Serves a port that accepts connections and reads until the peer closes (or goes idle).
pub(crate) async fn serve_port(listener: TcpListener, serving: Serving) {
    accept_loop(listener, serving, |mut stream, _| async move {
        let mut sink = [0u8; 1024];
        while let Ok(Ok(n)) = tokio::time::timeout(IDLE, stream.read(&mut sink)).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// Accepts connections until the fleet stops, handling each in its own task.
pub(crate) async fn accept_loop<F, Fut>(listener: TcpListener, serving: Serving, handle: F)
where
    F: Fn(TcpStream, Serving) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let stopped = serving.clone().stopped();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            () = &mut stopped => return,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(handle(stream, serving.clone()));
                }
            }
        }
    }
}
