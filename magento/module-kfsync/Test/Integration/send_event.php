<?php
/**
 * Drives the module's real consumer path without Magento: an order event recorded in an
 * in-memory outbox, sent by OutboxProcessor through StreamTransport to a running kfsync.
 *
 * Usage: php send_event.php KFSYNC_URL SECRET ENTITY_ID [--tamper]
 * Prints one JSON line: the HTTP status kfsync answered, the outcome and the event id.
 * --tamper changes the body after it was signed (kfsync must answer 401).
 */
declare(strict_types=1);

require __DIR__ . '/../bootstrap.php';

use Kfsync\Connector\Core\EventFactory;
use Kfsync\Connector\Core\HttpResponse;
use Kfsync\Connector\Core\MemoryOutbox;
use Kfsync\Connector\Core\OutboxProcessor;
use Kfsync\Connector\Core\RetrySchedule;
use Kfsync\Connector\Core\Sender;
use Kfsync\Connector\Core\Settings;
use Kfsync\Connector\Core\StreamTransport;
use Kfsync\Connector\Core\Transport;

/** Records the last answer; with $tamper, alters the signed body on the way out. */
final class ObservedTransport implements Transport
{
    public ?HttpResponse $last = null;

    public function __construct(private readonly Transport $inner, private readonly bool $tamper)
    {
    }

    public function post(string $url, array $headers, string $body, float $timeoutS): HttpResponse
    {
        if ($this->tamper) {
            $body = str_replace('"store_id":1', '"store_id":2', $body);
        }
        return $this->last = $this->inner->post($url, $headers, $body, $timeoutS);
    }
}

if ($argc < 4) {
    fwrite(STDERR, "usage: php send_event.php KFSYNC_URL SECRET ENTITY_ID [--tamper]\n");
    exit(2);
}
[$url, $secret, $entityId] = [$argv[1], $argv[2], (int) $argv[3]];
$transport = new ObservedTransport(new StreamTransport(), in_array('--tamper', $argv, true));
$outbox = new MemoryOutbox();
$outbox->add((new EventFactory())->order($entityId, sprintf('%09d', $entityId), 1,
    gmdate('Y-m-d H:i:s'), true));
$counts = (new OutboxProcessor($outbox, new Sender($transport), new RetrySchedule()))
    ->run(new Settings($url, $secret, 5.0));
echo json_encode([
    'status' => $transport->last?->status,
    'body' => $transport->last?->body,
    'outcome' => array_search(1, $counts, true),
    'event_id' => $outbox->rows[1]['event']->eventId,
]), "\n";
