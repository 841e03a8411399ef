// Epochs: one row per finished epoch of a run, with the run's cumulative energy at its end.
// Recording one is also the run's heartbeat, with its power so far, in one transaction.
import { EnergyFigureSchema, type EnergyFigure } from '../../common/energy.ts';
import { v } from '../../common/schema.ts';
import { PowerRepository, type PowerSummary } from './power.ts';
import { iso, jsonText, readJson, readRows, rowName, toJson, type StoreAccess } from './rows.ts';

export interface EpochRow {
  epoch: number;
  loss: number | null;
  accuracy: number | null;
  val_accuracy: number | null;
  seconds: number | null;
  best: boolean;
  checkpoint: string | null;
  ended_at: string;
  /** Cumulative energy of the run at this epoch's end. */
  energy: EnergyFigure | null;
}

export interface EpochInput {
  epoch: number;
  loss?: number;
  accuracy?: number;
  valAccuracy?: number;
  seconds?: number;
  best?: boolean;
  checkpoint?: string;
  energy?: EnergyFigure;
}

const EpochColumns = v.object({
  epoch: v.number(),
  loss: v.nullable(v.number()),
  accuracy: v.nullable(v.number()),
  val_accuracy: v.nullable(v.number()),
  seconds: v.nullable(v.number()),
  best: v.number(),
  checkpoint: v.nullable(v.string()),
  ended_at: v.string(),
  energy_json: jsonText,
});

/** A training run and its epochs' energy (a LEFT JOIN: a run without epochs has one row of NULLs). */
const TrainingEpochColumns = v.object({
  id: v.number(),
  epoch: v.nullable(v.number()),
  energy_json: jsonText,
});

export class EpochsRepository {
  private readonly s: StoreAccess;
  private readonly power: PowerRepository;

  constructor(s: StoreAccess, power: PowerRepository) {
    this.s = s;
    this.power = power;
  }

  /** Records a finished epoch (a best one becomes the run's best epoch), with the run's power so far. */
  add(id: number, e: EpochInput, power?: PowerSummary): void {
    this.s.write(() => {
      this.s.db
        .prepare(
          `INSERT OR REPLACE INTO epochs (run_id, epoch, loss, accuracy, val_accuracy, seconds, best, checkpoint, ended_at, energy_json)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          e.epoch,
          e.loss ?? null,
          e.accuracy ?? null,
          e.valAccuracy ?? null,
          e.seconds ?? null,
          e.best ? 1 : 0,
          e.checkpoint ?? null,
          iso(),
          toJson(e.energy),
        );
      if (e.best) this.s.db.prepare('UPDATE runs SET best_epoch = ? WHERE id = ?').run(e.epoch, id);
      this.power.beat(id, power);
    });
  }

  /** A run's epochs, in order. */
  list(id: number): EpochRow[] {
    return this.s.read(() =>
      readRows(
        this.s,
        EpochColumns,
        this.s.db.prepare('SELECT * FROM epochs WHERE run_id = ? ORDER BY epoch').all(id),
        rowName(`run ${id}: epoch`, 'epoch'),
      ).map((e) => ({
        epoch: e.epoch,
        loss: e.loss,
        accuracy: e.accuracy,
        val_accuracy: e.val_accuracy,
        seconds: e.seconds,
        best: Boolean(e.best),
        checkpoint: e.checkpoint,
        ended_at: e.ended_at,
        energy: this.energyOf(e.energy_json, id, e.epoch),
      })),
    );
  }

  /** The energy recorded with the run's last epoch that has one, or null. */
  lastEnergy(id: number): EnergyFigure | null {
    const row = this.s.read(() =>
      this.s.db
        .prepare(
          'SELECT epoch, energy_json FROM epochs WHERE run_id = ? AND energy_json IS NOT NULL ORDER BY epoch DESC LIMIT 1',
        )
        .get(id),
    );
    const e = v.safeParse(v.object({ epoch: v.number(), energy_json: jsonText }), row);
    return e.success ? this.energyOf(e.output.energy_json, id, e.output.epoch) : null;
  }

  /**
   * The training runs recorded before run `beforeId` in the run folder `runDir`
   * (params.run_dir), oldest first, each with its epochs (cumulative energy at each end).
   */
  earlierTrainingsIn(
    runDir: string,
    beforeId: number,
  ): { id: number; epochs: { epoch: number; energy: EnergyFigure | null }[] }[] {
    const rows = this.s.read(() =>
      readRows(
        this.s,
        TrainingEpochColumns,
        this.s.db
          .prepare(
            `SELECT r.id AS id, e.epoch AS epoch, e.energy_json AS energy_json
           FROM runs r LEFT JOIN epochs e ON e.run_id = r.id
          WHERE r.kind = 'train' AND r.id < ? AND json_valid(r.params_json)
            AND json_extract(r.params_json, '$.run_dir') = ?
          ORDER BY r.id, e.epoch`,
          )
          .all(beforeId, runDir),
        rowName('run'),
      ),
    );
    const out: { id: number; epochs: { epoch: number; energy: EnergyFigure | null }[] }[] = [];
    for (const r of rows) {
      if (out.at(-1)?.id !== r.id) out.push({ id: r.id, epochs: [] });
      if (r.epoch !== null)
        out.at(-1)!.epochs.push({ epoch: r.epoch, energy: this.energyOf(r.energy_json, r.id, r.epoch) });
    }
    return out;
  }

  private energyOf(text: unknown, id: number, epoch: number): EnergyFigure | null {
    return readJson(this.s, EnergyFigureSchema, text, null, `run ${id}, epoch ${epoch}`, 'energy');
  }
}
