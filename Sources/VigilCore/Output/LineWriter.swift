import Foundation
import VigilThreads

/// Buffered writing of text lines to a new file (or `-` for standard output).
///
/// A regular file is written from one page-aligned buffer with O_DIRECT while the device takes such writes at
/// 1 GB/s or more: through the page cache, a replay's half-gigabyte trace kept a core copying into newly
/// allocated cache pages (BENCHMARKS.md). Where direct writes are refused (tmpfs, some network file systems)
/// or slower than that (a slow volume, where the page cache absorbs the writes), and for the last partial
/// block, the file is written through the page cache.
public final class LineWriter {
    private let fd: Int32
    private let ownsFile: Bool
    private var direct: Bool
    /// Direct writes so far: bytes and seconds, to leave direct writing on a slow device.
    private var directBytes = 0, directSeconds = 0.0
    private static let alignment = 4096
    /// Linux's O_DIRECT (Glibc's module leaves it out: it needs _GNU_SOURCE); 0 where it is not known.
    #if os(Linux) && (arch(x86_64) || arch(i386))
    private static let directFlag: Int32 = 0o40000
    #elseif os(Linux) && arch(arm64)
    private static let directFlag: Int32 = 0o200000
    #else
    private static let directFlag: Int32 = 0
    #endif
    private static let capacity = 4 << 20
    /// `capacity` bytes, page-aligned (direct writes need an aligned address, offset and length).
    private let buffer = UnsafeMutableRawPointer.allocate(byteCount: LineWriter.capacity, alignment: LineWriter.alignment)
    private var count = 0
    /// The first failed write (a full disk), reported by `close`.
    private var failure: Int32?

    public init(path: String) throws {
        if path == "-" {
            (fd, ownsFile, direct) = (STDOUT_FILENO, false, false)
            return
        }
        let previousMode = Self.removeInBackground(path)
        let flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC
        var file = Self.directFlag == 0 ? -1 : open(path, flags | Self.directFlag, 0o666)
        direct = file >= 0
        if file < 0 { file = open(path, flags, 0o666) }
        guard file >= 0 else {
            buffer.deallocate()
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path,
                                                           NSUnderlyingErrorKey: POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)])
        }
        if let previousMode { _ = fchmod(file, previousMode) }
        (fd, ownsFile) = (file, true)
    }

    /// Files from this size on are replaced by `removeInBackground`, not truncated.
    static let backgroundRemovalSize = 64 << 20

    /// Frees a large previous file at `path` off the caller's path: truncating a replay's half-gigabyte trace
    /// held the start of the next replay for 60–90 ms (BENCHMARKS.md). Its name is unlinked at once and its
    /// blocks freed when a descriptor held open is closed on another thread. Only a regular file with one link
    /// qualifies (a symbolic link or a hard-linked file is truncated in place, as before), and only one this
    /// process may write; its permission bits, returned, go to the new file. Nil, with nothing done, otherwise.
    private static func removeInBackground(_ path: String) -> mode_t? {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_nlink == 1,
              info.st_size >= backgroundRemovalSize, access(path, W_OK) == 0 else { return nil }
        let old = open(path, O_RDONLY | O_CLOEXEC)
        guard old >= 0 else { return nil }
        guard unlink(path) == 0 else {
            Foundation.close(old)
            return nil
        }
        Parallel.thread(named: "vigil-free-old-file", stackSize: 64 << 10) { Foundation.close(old) }
        return info.st_mode & 0o7777
    }

    deinit { buffer.deallocate() }

    public func write(_ text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    public func write(bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    private func append(_ bytes: UnsafeRawBufferPointer) {
        guard var from = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = min(left, Self.capacity - count)
            (buffer + count).copyMemory(from: from, byteCount: n)
            (count, from, left) = (count + n, from + n, left - n)
            if count == Self.capacity { flush() }
        }
    }

    /// Writes the buffer's bytes and empties it.
    private func flush() {
        if direct && count % Self.alignment != 0 { leaveDirect() }
        var offset = 0
        while offset < count && failure == nil {
            var clock = Stopwatch()
            let n = Foundation.write(fd, buffer + offset, count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                if direct && errno == EINVAL { leaveDirect(); continue }
                failure = errno
                continue
            }
            if n == 0 {   // no progress on a regular file: a failure, not a loop
                failure = EIO
                continue
            }
            offset += n
            if direct {
                directBytes += n
                directSeconds += clock.lap()
                // A short write leaves the offset unaligned; a device slower than the page cache is left to it.
                if offset % Self.alignment != 0 || (directBytes >= 4 * Self.capacity && Double(directBytes) / directSeconds < 1e9) {
                    leaveDirect()
                }
            }
        }
        count = 0
    }

    private func leaveDirect() {
        direct = false
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~Self.directFlag) }
    }

    public func close() throws {
        flush()
        if ownsFile && Foundation.close(fd) != 0 && failure == nil { failure = errno }
        if let failure { throw POSIXError(POSIXErrorCode(rawValue: failure) ?? .EIO) }
    }
}
